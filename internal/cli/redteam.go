package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/attackreport"
	"github.com/mlsec/mlsec/internal/attack/evasion"
	"github.com/mlsec/mlsec/internal/attack/redteam"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report"
)

type redteamOptions struct {
	data, label, schema         string
	features, drop, attacks     []string
	budget, samples, workers    int
	batch                       int
	norm                        string
	eps                         []float64
	seed                        uint64
	members, nonmembers, shadow string
	extractionBudgets           []int
	th                          redteam.Thresholds
	token                       string
	headers                     []string
	timeout                     time.Duration
}

func newRedteamCmd(g *globals) *cobra.Command {
	var o redteamOptions
	cmd := &cobra.Command{
		Use:   "redteam (MODEL.onnx | http://HOST/v2/models/NAME) --data TEST.csv --label COL",
		Short: "Attack a model through its predictions: evasion, membership inference, extraction",
		Long: `Red-team a classifier the way a client of its API could: only through its
predictions (a local ONNX file evaluated in pure Go, or a remote Open
Inference Protocol v2 model).

Evasion (query-only, per sample at most --budget queries, never exceeded):
  hopskipjump  decision-based, L2 or Linf (Chen et al. 2020)
  boundary     decision-based, L2 (Brendel et al. 2018)
  square       score-based, Linf or L2, run at each --eps (Andriushchenko et al. 2020)
  simba        score-based, L2 (Guo et al. 2019)
--samples rows are drawn from --data with --seed; correctly classified ones
are attacked in parallel and queries are batched. Distances are in units of
each feature's range; every queried point respects the feature bounds and
the immutable / integer / categorical features of --schema (YAML: features:
[{name, type: continuous|integer|categorical, min, max, values, immutable}]),
with whatever it leaves out inferred from the data.

membership   needs --members and --nonmembers (labelled CSV/Parquet);
             confidence, loss, label-only and shadow-model attacks (shadow
             models train on --shadow-data, default --data).
extraction   surrogates (logistic regression, MLP) trained on the model's
             answers to queries from the data or synthetic, per budget.

Findings MLS-ADV-001..004 are raised when results cross the thresholds, so
--fail-on gates CI; a requested attack that cannot run makes the result
inconclusive (exit 2).`,
		Example: `  mlsec redteam model.onnx --data test.csv --label y --norm linf --eps 0.05,0.1 --budget 2000
  mlsec redteam http://127.0.0.1:8080/v2/models/credit --data test.csv --label approved \
      --members train.csv --nonmembers holdout.csv --schema schema.yaml --format html -o redteam.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRedteam(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "labelled CSV or Parquet `FILE` of rows to attack")
	f.StringVar(&o.label, "label", "", "true label column")
	f.StringSliceVar(&o.features, "features", nil, "feature columns in the model's input order (default: all columns but --label and --drop)")
	f.StringSliceVar(&o.drop, "drop", nil, "columns that are not features")
	f.StringVar(&o.schema, "schema", "", "feature constraints `FILE` (YAML or JSON)")
	f.StringSliceVar(&o.attacks, "attacks", redteam.AllAttacks, "attacks to run")
	f.IntVar(&o.budget, "budget", 1000, "most model queries per sample and evasion attack")
	f.StringVar(&o.norm, "norm", "l2", "perturbation norm: l2 or linf")
	f.Float64SliceVar(&o.eps, "eps", nil, "perturbation sizes, fractions of each feature's range (default l2: 0.1,0.25,0.5,1; linf: 0.03,0.05,0.1,0.2)")
	f.IntVar(&o.samples, "samples", 100, "rows drawn from --data for evasion")
	f.Uint64Var(&o.seed, "seed", 0, "random seed: the same seed gives the same report")
	f.IntVar(&o.workers, "workers", 4, "samples attacked in parallel")
	f.IntVar(&o.batch, "batch-size", 256, "most rows per model request")
	f.StringVar(&o.members, "members", "", "labelled `FILE` of training records (membership inference)")
	f.StringVar(&o.nonmembers, "nonmembers", "", "labelled `FILE` of records not used in training")
	f.StringVar(&o.shadow, "shadow-data", "", "labelled `FILE` the shadow models train on (default --data)")
	f.IntSliceVar(&o.extractionBudgets, "extraction-budgets", []int{100, 250, 500, 1000, 2000}, "query budgets tried for model extraction")
	f.Float64Var(&o.th.EvasionRate, "max-success-rate", 0.5, "MLS-ADV-001 when an evasion attack's success rate at --finding-eps reaches this")
	f.Float64Var(&o.th.EvasionEps, "finding-eps", 0, "ε judged by MLS-ADV-001 (default: the largest --eps)")
	f.Float64Var(&o.th.MinPerturbation, "min-perturbation", 0.05, "MLS-ADV-002 when the median minimal perturbation is at most this")
	f.Float64Var(&o.th.MembershipAUC, "max-mia-auc", 0.6, "MLS-ADV-003 when a membership attack's ROC AUC reaches this")
	f.Float64Var(&o.th.MembershipTPR, "max-mia-tpr", 0.1, "MLS-ADV-003 when a membership attack's TPR at 1% FPR reaches this")
	f.Float64Var(&o.th.ExtractionFidelity, "max-fidelity", 0.9, "MLS-ADV-004 when a surrogate's fidelity reaches this")
	f.StringVar(&o.token, "token", "", "bearer token for a remote model (also MLSEC_TOKEN)")
	f.StringSliceVar(&o.headers, "header", nil, "extra HTTP header `KEY:VALUE` for a remote model; repeatable")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit per remote request")
	_ = cmd.MarkFlagRequired("data")
	_ = cmd.MarkFlagRequired("label")
	return cmd
}

func runRedteam(cmd *cobra.Command, g *globals, o redteamOptions, target string) error {
	ctx := cmd.Context()
	if o.norm != "l2" && o.norm != "linf" {
		return usagef("--norm %q: want l2 or linf", o.norm)
	}
	if o.budget <= 0 || o.samples <= 0 || o.workers <= 0 || o.batch <= 0 {
		return usagef("--budget, --samples, --workers and --batch-size must be positive")
	}
	model, err := openModel(target, predictOptions{token: o.token, headers: o.headers, timeout: o.timeout})
	if err != nil {
		return err
	}
	read := func(path string) (*redteam.Data, error) {
		m, err := readMatrix(ctx, path, o.features, o.drop, o.label, 10_000_000)
		if err != nil {
			return nil, err
		}
		return &redteam.Data{Names: m.features, X: m.x, Labels: m.labels}, nil
	}
	data, err := read(o.data)
	if err != nil {
		return err
	}
	cfg := redteam.Config{Attacks: o.attacks, Norm: evasion.Norm(o.norm), Eps: o.eps, Budget: o.budget, Samples: o.samples,
		Seed: o.seed, Workers: o.workers, Batch: o.batch, ExtractionBudgets: o.extractionBudgets, Thresholds: o.th}
	if o.schema != "" {
		b, err := os.ReadFile(o.schema)
		if err != nil {
			return usagef("--schema: %v", err)
		}
		if cfg.Schema, err = attack.ParseSchema(b); err != nil {
			return usagef("%s: %v", o.schema, err)
		}
	}
	opt := func(path string) (*redteam.Data, error) {
		if path == "" {
			return nil, nil
		}
		m, err := readMatrix(ctx, path, data.Names, nil, o.label, 10_000_000)
		if err != nil {
			return nil, err
		}
		return &redteam.Data{Names: m.features, X: m.x, Labels: m.labels}, nil
	}
	if cfg.Members, err = opt(o.members); err != nil {
		return err
	}
	if cfg.NonMembers, err = opt(o.nonmembers); err != nil {
		return err
	}
	if cfg.Population, err = opt(o.shadow); err != nil {
		return err
	}
	art := finding.Artifact{Path: target, Format: "oip-v2"}
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		art.Format = "onnx"
		if st, err := os.Stat(target); err == nil {
			art.Size = st.Size()
		}
	}
	g.logger.Info("redteam: start", "model", target, "rows", len(data.X), "attacks", cfg.Attacks, "budget", cfg.Budget)
	res, err := redteam.Run(ctx, model, target, art, data, cfg)
	if err != nil {
		if errors.Is(err, redteam.ErrConfig) {
			return usagef("%v", err)
		}
		return err
	}
	res.DataPath = o.data
	g.logger.Info("redteam: done", "queries", res.Queries, "requests", res.Calls, "findings", len(res.Findings), "duration", res.Duration)
	tool := finding.Tool{Name: "mlsec", Version: buildVersion().Version}
	rep := res.Report(tool)
	err = g.writeOutput(func(w io.Writer, _ bool) error {
		switch g.format {
		case "json":
			return attackreport.JSON(w, res, tool)
		case "html":
			return attackreport.HTML(w, res, tool)
		case "sarif":
			enc, err := report.New("sarif", report.Options{})
			if err != nil {
				return err
			}
			return enc.Encode(w, rep)
		}
		return attackreport.Table(w, res)
	})
	if err != nil {
		return fmt.Errorf("redteam: %w", err)
	}
	return verdict(g, rep)
}
