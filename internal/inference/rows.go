package inference

import (
	"context"
	"fmt"
	"math"
	"strconv"
)

// Predictions are a model's answers for a batch of rows.
type Predictions struct {
	// Labels holds one predicted label per row; nil when the model has no
	// label output (regressors).
	Labels []string `json:"labels,omitempty"`
	// Scores holds one row of scores per input row: class probabilities
	// for classifiers, predicted values for regressors.
	Scores [][]float64 `json:"scores,omitempty"`
	// ScoreNames names the score columns: the class labels when known,
	// otherwise the output name with an index.
	ScoreNames []string `json:"score_names,omitempty"`
}

// PredictRows runs rows of numeric features through a model with a single
// input of shape [batch, features] and reads back labels and scores: the
// label output is the first integer or BYTES output with one value per
// row, the scores the first floating-point output.
func PredictRows(ctx context.Context, m Model, rows [][]float64) (*Predictions, error) {
	md, err := m.Metadata(ctx)
	if err != nil {
		return nil, err
	}
	if len(md.Inputs) != 1 {
		return nil, fmt.Errorf("inference: %w: PredictRows needs a model with one input, %q has %d", ErrUnsupported, md.Name, len(md.Inputs))
	}
	in := md.Inputs[0]
	n := len(rows)
	if n == 0 {
		return &Predictions{}, nil
	}
	cols := len(rows[0])
	if len(in.Shape) == 2 && in.Shape[1] >= 0 && in.Shape[1] != int64(cols) {
		return nil, fmt.Errorf("inference: %w: model input %q wants %d features, rows have %d", ErrBadInput, in.Name, in.Shape[1], cols)
	}
	if n*cols > maxElements {
		return nil, fmt.Errorf("inference: %w: %d×%d values", ErrLimit, n, cols)
	}
	t := Tensor{Name: in.Name, Datatype: in.Datatype, Shape: []int64{int64(n), int64(cols)}}
	switch in.Datatype.Class() {
	case ClassFloat:
		t.Float = make([]float64, 0, n*cols)
	case ClassInt:
		t.Int = make([]int64, 0, n*cols)
	default:
		return nil, fmt.Errorf("inference: %w: input %q is %s, not numeric", ErrUnsupported, in.Name, in.Datatype)
	}
	for i, r := range rows {
		if len(r) != cols {
			return nil, fmt.Errorf("inference: %w: row %d has %d values, want %d", ErrBadInput, i, len(r), cols)
		}
		for _, v := range r {
			if t.Float != nil {
				t.Float = append(t.Float, v)
			} else {
				t.Int = append(t.Int, int64(math.Round(v)))
			}
		}
	}
	outs, err := m.Predict(ctx, []Tensor{t})
	if err != nil {
		return nil, err
	}
	p := &Predictions{}
	var labelIsInt bool
	for i := range outs {
		o := &outs[i]
		switch o.Datatype.Class() {
		case ClassInt, ClassBytes:
			if p.Labels != nil || o.count() != n {
				continue
			}
			p.Labels = make([]string, n)
			for j := range n {
				if o.Datatype.Class() == ClassInt {
					p.Labels[j] = strconv.FormatInt(o.Int[j], 10)
					labelIsInt = true
				} else {
					p.Labels[j] = string(o.Bytes[j])
				}
			}
		case ClassFloat:
			if p.Scores != nil || len(o.Float) == 0 || len(o.Float)%n != 0 {
				continue
			}
			k := len(o.Float) / n
			p.Scores = make([][]float64, n)
			for j := range n {
				p.Scores[j] = o.Float[j*k : (j+1)*k : (j+1)*k]
			}
			p.ScoreNames = scoreNames(md, o.Name, k, labelIsInt || p.Labels == nil)
		}
	}
	if p.Labels == nil && p.Scores == nil {
		return nil, fmt.Errorf("inference: %w: no output of %q gives one label or score row per input row", ErrUnsupported, md.Name)
	}
	return p, nil
}

func scoreNames(md Metadata, output string, k int, indexed bool) []string {
	if cl := classes(md); len(cl) == k {
		return cl
	}
	names := make([]string, k)
	for i := range names {
		if k == 1 {
			names[i] = output
		} else if indexed {
			names[i] = strconv.Itoa(i)
		} else {
			names[i] = output + "_" + strconv.Itoa(i)
		}
	}
	return names
}

// classes reads the "classes" metadata parameter ([]string locally,
// []any after JSON).
func classes(md Metadata) []string {
	switch v := md.Parameters["classes"].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			switch s := x.(type) {
			case string:
				out = append(out, s)
			case float64:
				out = append(out, strconv.FormatFloat(s, 'g', -1, 64))
			default:
				return nil
			}
		}
		return out
	}
	return nil
}
