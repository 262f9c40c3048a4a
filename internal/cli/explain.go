package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/explain"
	"github.com/mlsec/mlsec/internal/explain/explainreport"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/tabular"
)

type explainOptions struct {
	data, background string
	features, drop   []string
	label            string
	rows             string
	bgSize           int
	samples          int
	repeats          int
	metric           string
	seed             uint64
	output           int
	batch            int
	token            string
	headers          []string
	timeout          time.Duration
	noSHAP, noPerm   bool
}

func newExplainCmd(g *globals) *cobra.Command {
	var o explainOptions
	cmd := &cobra.Command{
		Use:   "explain (MODEL.onnx | http://HOST/v2/models/NAME) --data FILE",
		Short: "Explain a model's predictions: permutation importance and KernelSHAP",
		Long: `Explain a model as a black box, through its predictions only (a local ONNX
file evaluated in pure Go, or a remote Open Inference Protocol v2 model).

Permutation importance (needs --label): how much --metric worsens when one
feature's column is shuffled, --repeats times per feature, seeded, with t
confidence intervals.

KernelSHAP: for each row picked by --rows, the contribution of every feature
to the explained output (--output-index, default the last: the positive
class) relative to the base value E[f(background)]; the values of a row add
up exactly to the prediction minus the base value. With --samples at least
2^features - 2 every coalition is evaluated and the values are exact
Shapley values. Global importance is the mean |SHAP| over the rows.

--data is CSV or Parquet; features are its numeric columns except --label
and --drop (or exactly --features). --background defaults to a seeded
sample of --background-size rows of --data.`,
		Example: `  mlsec explain model.onnx --data test.csv --label approved --rows 0-9
  mlsec explain http://127.0.0.1:8080/v2/models/credit --data rows.parquet --background train.csv \
      --samples 4096 --format html -o explain.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExplain(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "CSV or Parquet `FILE` of rows to explain")
	f.StringVar(&o.background, "background", "", "CSV or Parquet `FILE` of background rows (default: a sample of --data)")
	f.StringSliceVar(&o.features, "features", nil, "feature columns in the model's input order (default: all numeric columns)")
	f.StringSliceVar(&o.drop, "drop", nil, "columns that are not features")
	f.StringVar(&o.label, "label", "", "true label column (enables permutation importance)")
	f.StringVar(&o.rows, "rows", "0-9", "data rows (0-based) to explain with KernelSHAP, e.g. 0,5,10-20")
	f.IntVar(&o.bgSize, "background-size", 100, "background rows kept (seeded sample)")
	f.IntVar(&o.samples, "samples", 0, "KernelSHAP coalitions per row (default 2·features+2048)")
	f.IntVar(&o.repeats, "repeats", 5, "permutation repeats per feature")
	f.StringVar(&o.metric, "metric", explain.MetricAccuracy, "permutation metric: accuracy, mse or r2")
	f.Uint64Var(&o.seed, "seed", 0, "random seed")
	f.IntVar(&o.output, "output-index", -1, "model output explained (-1: the last)")
	f.IntVar(&o.batch, "batch-size", 1024, "rows per model call")
	f.StringVar(&o.token, "token", "", "bearer token for a remote model (also MLSEC_TOKEN)")
	f.StringSliceVar(&o.headers, "header", nil, "extra HTTP header `KEY:VALUE` for a remote model; repeatable")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit per remote request")
	f.BoolVar(&o.noSHAP, "no-shap", false, "skip KernelSHAP")
	f.BoolVar(&o.noPerm, "no-permutation", false, "skip permutation importance")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// matrix is numeric feature data read from a tabular file.
type matrix struct {
	features []string
	x        [][]float64
	labels   []string
}

func readMatrix(ctx context.Context, path string, features, drop []string, label string, maxRows int64) (*matrix, error) {
	src, err := tabular.Open(path, tabular.Limits{MaxRows: maxRows})
	if err != nil {
		return nil, fmt.Errorf("cannot read %w", err)
	}
	defer src.Close()
	if len(features) == 0 {
		for _, c := range src.Columns() {
			if c != label && !slices.Contains(drop, c) {
				features = append(features, c)
			}
		}
	}
	cols := slices.Clone(features)
	if label != "" {
		cols = append(cols, label)
	}
	m := &matrix{features: features}
	_, err = src.Scan(ctx, cols, func(row []tabular.Cell) error {
		r := make([]float64, len(features))
		for i := range features {
			v, ok := row[i].Float()
			if !ok {
				return fmt.Errorf("row %d: column %q: %q is not a number (use --drop or --features)", len(m.x)+1, features[i], row[i].String())
			}
			r[i] = v
		}
		m.x = append(m.x, r)
		if label != "" {
			m.labels = append(m.labels, canonLabel(row[len(features)].String()))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, tabular.ErrNoColumn) {
			return nil, usagef("%v", err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.x) == 0 {
		return nil, fmt.Errorf("%s: no data rows", path)
	}
	return m, nil
}

func canonLabel(s string) string {
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return s
}

// parseRows reads "0,5,10-20" into sorted unique indexes below n.
func parseRows(spec string, n int) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, usagef("--rows %q: bad row %q", spec, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, usagef("--rows %q: bad range %q", spec, part)
			}
		}
		for i := a; i <= b && i < n; i++ {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	if len(out) == 0 {
		return nil, usagef("--rows %q selects none of the %d rows", spec, n)
	}
	slices.Sort(out)
	return out, nil
}

func runExplain(cmd *cobra.Command, g *globals, o explainOptions, target string) error {
	if g.format == "sarif" {
		return usagef("explain writes table, json or html, not sarif")
	}
	ctx := cmd.Context()
	model, err := openModel(target, predictOptions{token: o.token, headers: o.headers, timeout: o.timeout})
	if err != nil {
		return err
	}
	pred := &explain.ModelPredictor{Model: model}
	data, err := readMatrix(ctx, o.data, o.features, o.drop, o.label, 10_000_000)
	if err != nil {
		return err
	}
	// One warm-up query learns the output (class) names.
	if _, err := pred.Predict(ctx, data.x[:1]); err != nil {
		return err
	}
	doc := explainreport.Document{Tool: finding.Tool{Name: "mlsec", Version: buildVersion().Version}, Model: target, Data: o.data}
	if !o.noPerm && o.label != "" {
		res, err := explain.Permutation(ctx, pred, data.features, data.x, data.labels, explain.PermutationOptions{
			Metric: o.metric, Repeats: o.repeats, Seed: o.seed, Output: o.output, Batch: o.batch, Classes: pred.Names,
		})
		if err != nil && errors.Is(err, explain.ErrInput) {
			return usagef("%v", err)
		}
		if err != nil {
			return err
		}
		doc.Permutation = res
	}
	if !o.noSHAP {
		idx, err := parseRows(o.rows, len(data.x))
		if err != nil {
			return err
		}
		var bg [][]float64
		if o.background != "" {
			b, err := readMatrix(ctx, o.background, data.features, nil, "", 10_000_000)
			if err != nil {
				return err
			}
			bg = b.x
		} else {
			bg = data.x
		}
		if o.bgSize > 0 && len(bg) > o.bgSize {
			rng := rand.New(rand.NewPCG(o.seed, 0x4247))
			pick := rng.Perm(len(bg))[:o.bgSize]
			slices.Sort(pick)
			sample := make([][]float64, len(pick))
			for i, j := range pick {
				sample[i] = bg[j]
			}
			bg = sample
		}
		rows := make([][]float64, len(idx))
		for i, j := range idx {
			rows[i] = data.x[j]
		}
		res, err := explain.KernelSHAP(ctx, pred, data.features, rows, idx, bg, explain.SHAPOptions{
			Samples: o.samples, Output: o.output, Seed: o.seed, Batch: o.batch,
		})
		if err != nil && errors.Is(err, explain.ErrInput) {
			return usagef("%v", err)
		}
		if err != nil {
			return err
		}
		doc.SHAP = res
	}
	if names := pred.Names; len(names) > 0 {
		k := o.output
		if k < 0 || k >= len(names) {
			k = len(names) - 1
		}
		doc.Output = names[k]
	}
	return g.writeOutput(func(w io.Writer, _ bool) error {
		switch g.format {
		case "json":
			return explainreport.JSON(w, doc)
		case "html":
			return explainreport.HTML(w, doc)
		}
		return explainreport.Table(w, doc)
	})
}
