package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/fairness"
	"github.com/mlsec/mlsec/internal/fairness/fairreport"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report"
	"github.com/mlsec/mlsec/internal/tabular"
)

type fairnessOptions struct {
	label, pred, score string
	sensitive          []string
	intersectional     bool
	positive           string
	bootstrap          int
	seed               uint64
	ci                 float64
	method             string
	maxDifference      float64
	minRatio           float64
	thresholds         []string
	minGroup           int64
}

func newFairnessCmd(g *globals) *cobra.Command {
	var o fairnessOptions
	cmd := &cobra.Command{
		Use:   "fairness PREDICTIONS (.csv | .parquet) --label COL --pred COL --sensitive COL[,COL…]",
		Short: "Measure group fairness of a model's predictions (Fairlearn's metrics)",
		Long: `Measure how a model's predictions treat the groups of one or more sensitive
features, with Fairlearn's definitions: per group count, selection rate,
accuracy, TPR, FPR, FNR, TNR, precision (and ROC AUC with --score);
demographic parity, equalized odds and equal opportunity differences and
ratios by the between_groups and to_overall methods; disparate impact with
the four-fifths rule. --intersectional adds the intersection of all the
sensitive features as groups of its own.

The file (CSV with a header, or Parquet; told apart by content) is read once,
streaming, and only the named columns are decoded. Disparities past their
thresholds become findings (MLS-FAIR-*), so --fail-on gates CI: a
difference above --max-difference or a ratio below --min-ratio (0.8, the
four-fifths rule) is a finding; --threshold NAME=VALUE sets one disparity's
limit. Output: table, json, sarif or html (a self-contained report with
charts).`,
		Example: `  mlsec fairness predictions.csv --label approved --pred label --sensitive sex,race
  mlsec fairness preds.parquet --label y --pred y_hat --score p1 --sensitive sex,age_band --intersectional \
      --bootstrap 1000 --seed 7 --format html -o fairness.html
  mlsec fairness preds.csv --label y --pred yhat --sensitive sex --threshold demographic_parity_difference=0.05 --fail-on medium`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFairness(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.label, "label", "", "column holding the true label")
	f.StringVar(&o.pred, "pred", "", "column holding the predicted label")
	f.StringVar(&o.score, "score", "", "column holding the positive-class score (adds ROC AUC)")
	f.StringSliceVar(&o.sensitive, "sensitive", nil, "sensitive feature columns (comma-separated or repeated)")
	f.BoolVar(&o.intersectional, "intersectional", false, "also assess the intersection of all sensitive features")
	f.StringVar(&o.positive, "positive", "1", "the positive (favourable) label value")
	f.IntVar(&o.bootstrap, "bootstrap", 0, "bootstrap resamples for confidence intervals (0: none)")
	f.Uint64Var(&o.seed, "seed", 0, "random seed for the bootstrap")
	f.Float64Var(&o.ci, "ci", 0.95, "confidence level of the bootstrap intervals")
	f.StringVar(&o.method, "method", fairness.BetweenGroups, "method findings are judged on: between_groups or to_overall")
	f.Float64Var(&o.maxDifference, "max-difference", 0.1, "largest acceptable difference (demographic parity, equalized odds, equal opportunity)")
	f.Float64Var(&o.minRatio, "min-ratio", 0.8, "smallest acceptable ratio (0.8: the four-fifths rule)")
	f.StringSliceVar(&o.thresholds, "threshold", nil, "one disparity's limit, `NAME=VALUE` (e.g. equalized_odds_difference=0.05); repeatable")
	f.Int64Var(&o.minGroup, "min-group-size", 30, "flag groups with fewer rows (0: never)")
	_ = cmd.MarkFlagRequired("label")
	_ = cmd.MarkFlagRequired("pred")
	_ = cmd.MarkFlagRequired("sensitive")
	return cmd
}

func runFairness(cmd *cobra.Command, g *globals, o fairnessOptions, path string) error {
	th := map[string]float64{}
	for _, name := range fairness.DisparityNames {
		if fairness.IsRatio(name) {
			th[name] = o.minRatio
		} else {
			th[name] = o.maxDifference
		}
	}
	for _, kv := range o.thresholds {
		k, v, ok := strings.Cut(kv, "=")
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err != nil {
			return usagef("--threshold %q: want NAME=NUMBER", kv)
		}
		th[strings.TrimSpace(k)] = x
	}
	minGroup := o.minGroup
	if minGroup == 0 {
		minGroup = -1
	}
	cfg := fairness.Config{
		Label: o.label, Pred: o.pred, Score: o.score, Sensitive: o.sensitive, Intersectional: o.intersectional,
		Positive: o.positive, Bootstrap: o.bootstrap, Seed: o.seed, CILevel: o.ci, Method: o.method,
		Thresholds: th, MinGroupSize: minGroup, Limits: tabular.DefaultLimits(),
	}
	src, err := tabular.Open(path, cfg.Limits)
	if err != nil {
		return fmt.Errorf("cannot read %w", err)
	}
	defer src.Close()
	g.logger.Debug("fairness: reading", "path", path, "format", src.Format())
	res, err := fairness.Analyze(cmd.Context(), src, cfg)
	if err != nil {
		if errors.Is(err, fairness.ErrConfig) || errors.Is(err, tabular.ErrNoColumn) {
			return usagef("%v", err)
		}
		return err
	}
	g.logger.Info("fairness: done", "rows", res.Input.Rows, "findings", len(res.Findings), "duration", res.Duration)
	tool := finding.Tool{Name: "mlsec", Version: buildVersion().Version}
	rep := fairreport.Report(res, tool)
	err = g.writeOutput(func(w io.Writer, color bool) error {
		switch g.format {
		case "json":
			return fairreport.JSON(w, res, tool)
		case "html":
			return fairreport.HTML(w, res, tool)
		case "sarif":
			enc, err := report.New("sarif", report.Options{})
			if err != nil {
				return err
			}
			return enc.Encode(w, rep)
		}
		return fairreport.Table(w, res)
	})
	if err != nil {
		return err
	}
	return verdict(g, rep)
}
