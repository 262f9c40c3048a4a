// Package explain gives model-agnostic explanations of a black-box model:
// permutation feature importance (Breiman; scikit-learn's
// permutation_importance) and KernelSHAP (Lundberg & Lee, 2017) with a
// background set, so that for every explained row the SHAP values plus the
// base value E[f(background)] equal the model's output exactly.
//
// The model is anything that maps rows of numeric features to rows of
// outputs (Predictor); queries are batched. Everything random is seeded.
package explain

import (
	"context"
	"errors"
	"fmt"
)

// Predictor maps rows of features to rows of outputs (class scores or
// regression values). It must be safe to call repeatedly.
type Predictor interface {
	Predict(ctx context.Context, rows [][]float64) ([][]float64, error)
}

// PredictorFunc adapts a function to Predictor.
type PredictorFunc func(ctx context.Context, rows [][]float64) ([][]float64, error)

// Predict calls f.
func (f PredictorFunc) Predict(ctx context.Context, rows [][]float64) ([][]float64, error) {
	return f(ctx, rows)
}

// ErrInput is returned (wrapped) for unusable data or options.
var ErrInput = errors.New("explain: invalid input")

// counter wraps a predictor with batching and query accounting.
type counter struct {
	p       Predictor
	batch   int
	rows    int64 // rows sent
	calls   int64 // Predict calls
	outputs int
}

func newCounter(p Predictor, batch int) *counter {
	if batch <= 0 {
		batch = 1024
	}
	return &counter{p: p, batch: batch}
}

// predict runs rows through the model in batches and returns output k of
// each row (k < 0: the last output).
func (c *counter) predict(ctx context.Context, rows [][]float64, k int) ([]float64, error) {
	out := make([]float64, 0, len(rows))
	for start := 0; start < len(rows); start += c.batch {
		end := min(start+c.batch, len(rows))
		res, err := c.p.Predict(ctx, rows[start:end])
		c.calls++
		c.rows += int64(end - start)
		if err != nil {
			return nil, fmt.Errorf("explain: model query: %w", err)
		}
		if len(res) != end-start {
			return nil, fmt.Errorf("explain: model returned %d rows for %d", len(res), end-start)
		}
		for _, r := range res {
			if len(r) == 0 {
				return nil, errors.New("explain: model returned an empty output row")
			}
			c.outputs = len(r)
			j := k
			if j < 0 || j >= len(r) {
				if k >= len(r) {
					return nil, fmt.Errorf("%w: output %d of %d", ErrInput, k, len(r))
				}
				j = len(r) - 1
			}
			out = append(out, r[j])
		}
	}
	return out, nil
}

// predictAll is predict keeping every output.
func (c *counter) predictAll(ctx context.Context, rows [][]float64) ([][]float64, error) {
	var out [][]float64
	for start := 0; start < len(rows); start += c.batch {
		end := min(start+c.batch, len(rows))
		res, err := c.p.Predict(ctx, rows[start:end])
		c.calls++
		c.rows += int64(end - start)
		if err != nil {
			return nil, fmt.Errorf("explain: model query: %w", err)
		}
		if len(res) != end-start {
			return nil, fmt.Errorf("explain: model returned %d rows for %d", len(res), end-start)
		}
		out = append(out, res...)
	}
	return out, nil
}

// Queries counts what an explanation cost.
type Queries struct {
	Calls int64 `json:"calls"`
	Rows  int64 `json:"rows"`
}

func checkMatrix(name string, rows [][]float64, width int) error {
	if len(rows) == 0 {
		return fmt.Errorf("%w: %s has no rows", ErrInput, name)
	}
	for i, r := range rows {
		if len(r) != width {
			return fmt.Errorf("%w: %s row %d has %d features, want %d", ErrInput, name, i, len(r), width)
		}
	}
	return nil
}
