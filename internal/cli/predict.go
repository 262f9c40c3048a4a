package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/inference"
)

type predictOptions struct {
	data     string
	features []string
	drop     []string
	keep     []string
	noHeader bool
	batch    int
	token    string
	headers  []string
	timeout  time.Duration
}

func newPredictCmd(g *globals) *cobra.Command {
	var o predictOptions
	cmd := &cobra.Command{
		Use:   "predict (MODEL.onnx | http://HOST/v2/models/NAME) --data FILE.csv",
		Short: "Run rows of a CSV file through a model and write labels and scores",
		Long: `Run every row of a CSV file through a model, a local ONNX file evaluated in
pure Go or a remote model behind the Open Inference Protocol v2 REST API
(KServe, Triton, MLServer, Seldon, 'mlsec serve'), and write one prediction
per row: the label and a score per class (or the predicted values of a
regressor).

The CSV's first row is a header when any of its fields is not a number
(--no-header forces data). All columns are features unless --features
picks some or --drop removes some; --keep copies columns (or '*' for all)
into the output so that predictions can be joined with protected
attributes, as 'mlsec fairness' expects. Empty cells and NaN are missing
values.

Output is CSV (columns row, kept columns, label, score_<class>...) or, with
--format json or an -o FILE.json, a JSON array of objects.`,
		Example: `  mlsec predict model.onnx --data applicants.csv -o predictions.csv
  mlsec predict http://127.0.0.1:8080/v2/models/credit --data rows.csv --keep sex,age --format json
  mlsec predict https://kserve.example/v2/models/m --token "$TOKEN" --data rows.csv --drop id
  mlsec predict model.onnx --data test.csv --drop y,sex --keep y,sex -o preds.csv &&
    mlsec fairness preds.csv --label y --pred label --score score_1 --sensitive sex`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPredict(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "CSV `FILE` of rows to predict (- for standard input)")
	f.StringSliceVar(&o.features, "features", nil, "columns to send to the model, in order (default: all not dropped)")
	f.StringSliceVar(&o.drop, "drop", nil, "columns not to send to the model")
	f.StringSliceVar(&o.keep, "keep", nil, "columns to copy into the output ('*' for all)")
	f.BoolVar(&o.noHeader, "no-header", false, "the CSV has no header row (columns are named c0, c1, …)")
	f.IntVar(&o.batch, "batch-size", 512, "rows per model call")
	f.StringVar(&o.token, "token", "", "bearer token for a remote model (also MLSEC_TOKEN)")
	f.StringSliceVar(&o.headers, "header", nil, "extra HTTP header `KEY:VALUE` for a remote model; repeatable")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit per remote request")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

func runPredict(cmd *cobra.Command, g *globals, o predictOptions, target string) error {
	if g.format == "sarif" {
		return usagef("predict writes csv (--format table, the default) or json, not sarif")
	}
	if o.batch < 1 {
		return usagef("--batch-size must be at least 1")
	}
	asJSON := g.format == "json" || (!cmd.Flags().Changed("format") && strings.HasSuffix(strings.ToLower(g.output), ".json"))
	ctx := cmd.Context()
	model, err := openModel(target, o)
	if err != nil {
		return err
	}

	var in io.Reader = os.Stdin
	if o.data != "-" {
		f, err := os.Open(o.data)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", o.data, unwrapPath(err))
		}
		defer f.Close()
		in = f
	}
	r := csv.NewReader(bufio.NewReader(in))
	r.ReuseRecord = false
	r.FieldsPerRecord = 0
	first, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: %w", o.data, err)
	}
	header, pending := first, [][]string{}
	if o.noHeader || allNumeric(first) {
		header = make([]string, len(first))
		for k := range header {
			header[k] = "c" + strconv.Itoa(k)
		}
		pending = append(pending, first)
	}
	featIdx, keepIdx, err := pickColumns(header, o)
	if err != nil {
		return err
	}
	return g.writeOutput(func(w io.Writer, _ bool) error {
		out := newPredWriter(w, asJSON, header, keepIdx)
		row := 0
		for {
			batch := pending
			pending = nil
			for len(batch) < o.batch {
				rec, err := r.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return fmt.Errorf("%s: %w", o.data, err)
				}
				batch = append(batch, rec)
			}
			if len(batch) == 0 {
				return out.close()
			}
			feats := make([][]float64, len(batch))
			for k, rec := range batch {
				feats[k] = make([]float64, len(featIdx))
				for j, c := range featIdx {
					v, err := parseCell(rec[c])
					if err != nil {
						return fmt.Errorf("%s: row %d, column %q: %w", o.data, row+k+1, header[c], err)
					}
					feats[k][j] = v
				}
			}
			p, err := inference.PredictRows(ctx, model, feats)
			if err != nil {
				return fmt.Errorf("rows %d–%d: %w", row+1, row+len(batch), err)
			}
			if err := out.write(row, batch, p); err != nil {
				return err
			}
			row += len(batch)
		}
	})
}

func openModel(target string, o predictOptions) (inference.Model, error) {
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		opts := []inference.ClientOption{inference.WithTimeout(o.timeout)}
		token := o.token
		if token == "" {
			token = os.Getenv("MLSEC_TOKEN")
		}
		if token != "" {
			opts = append(opts, inference.WithBearerToken(token))
		}
		for _, h := range o.headers {
			k, v, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, usagef("--header %q: want KEY:VALUE", h)
			}
			opts = append(opts, inference.WithHeader(strings.TrimSpace(k), strings.TrimSpace(v)))
		}
		c, err := inference.Dial(target, opts...)
		if err != nil {
			return nil, &usageError{err}
		}
		return c, nil
	}
	return inference.LoadONNX(target, inference.ONNXOptions{})
}

func allNumeric(rec []string) bool {
	for _, s := range rec {
		if _, err := parseCell(s); err != nil {
			return false
		}
	}
	return true
}

func parseCell(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "nan") || strings.EqualFold(s, "na") {
		return math.NaN(), nil
	}
	switch strings.ToLower(s) {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

func pickColumns(header []string, o predictOptions) (feat, keep []int, err error) {
	index := func(name string) (int, error) {
		k := slices.Index(header, name)
		if k < 0 {
			return 0, usagef("no column %q in the CSV header (have %s)", name, strings.Join(header, ", "))
		}
		return k, nil
	}
	if len(o.features) > 0 {
		for _, f := range o.features {
			k, err := index(f)
			if err != nil {
				return nil, nil, err
			}
			feat = append(feat, k)
		}
	} else {
		dropped := map[int]bool{}
		for _, d := range o.drop {
			k, err := index(d)
			if err != nil {
				return nil, nil, err
			}
			dropped[k] = true
		}
		for k := range header {
			if !dropped[k] {
				feat = append(feat, k)
			}
		}
	}
	if len(feat) == 0 {
		return nil, nil, usagef("no feature columns left")
	}
	for _, c := range o.keep {
		if c == "*" {
			keep = keep[:0]
			for k := range header {
				keep = append(keep, k)
			}
			break
		}
		k, err := index(c)
		if err != nil {
			return nil, nil, err
		}
		keep = append(keep, k)
	}
	return feat, keep, nil
}

// predWriter streams predictions as CSV or a JSON array.
type predWriter struct {
	w       io.Writer
	json    bool
	header  []string
	keep    []int
	csv     *csv.Writer
	started bool
}

func newPredWriter(w io.Writer, asJSON bool, header []string, keep []int) *predWriter {
	return &predWriter{w: w, json: asJSON, header: header, keep: keep, csv: csv.NewWriter(w)}
}

type predRecord struct {
	Row    int                `json:"row"`
	Input  map[string]string  `json:"input,omitempty"`
	Label  *string            `json:"label,omitempty"`
	Scores map[string]float64 `json:"scores,omitempty"`
}

func (p *predWriter) write(first int, batch [][]string, pr *inference.Predictions) error {
	if !p.started {
		p.started = true
		if p.json {
			if _, err := io.WriteString(p.w, "["); err != nil {
				return err
			}
		} else {
			cols := []string{"row"}
			for _, k := range p.keep {
				cols = append(cols, p.header[k])
			}
			if pr.Labels != nil {
				cols = append(cols, "label")
			}
			for _, n := range pr.ScoreNames {
				cols = append(cols, "score_"+n)
			}
			if err := p.csv.Write(cols); err != nil {
				return err
			}
		}
	}
	for i, rec := range batch {
		row := first + i + 1
		if p.json {
			r := predRecord{Row: row}
			if len(p.keep) > 0 {
				r.Input = map[string]string{}
				for _, k := range p.keep {
					r.Input[p.header[k]] = rec[k]
				}
			}
			if pr.Labels != nil {
				r.Label = &pr.Labels[i]
			}
			if pr.Scores != nil {
				r.Scores = map[string]float64{}
				for j, n := range pr.ScoreNames {
					r.Scores[n] = pr.Scores[i][j]
				}
			}
			data, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("row %d: %w", row, err)
			}
			sep := ",\n"
			if row == 1 {
				sep = "\n"
			}
			if _, err := fmt.Fprintf(p.w, "%s  %s", sep, data); err != nil {
				return err
			}
			continue
		}
		cols := []string{strconv.Itoa(row)}
		for _, k := range p.keep {
			cols = append(cols, rec[k])
		}
		if pr.Labels != nil {
			cols = append(cols, pr.Labels[i])
		}
		if pr.Scores != nil {
			for _, s := range pr.Scores[i] {
				cols = append(cols, strconv.FormatFloat(s, 'g', 8, 64))
			}
		}
		if err := p.csv.Write(cols); err != nil {
			return err
		}
	}
	return nil
}

func (p *predWriter) close() error {
	if p.json {
		end := "\n]\n"
		if !p.started {
			end = "[]\n"
		}
		_, err := io.WriteString(p.w, end)
		return err
	}
	p.csv.Flush()
	return p.csv.Error()
}
