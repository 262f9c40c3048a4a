package explain

import (
	"context"

	"github.com/mlsec/mlsec/internal/inference"
)

// ModelPredictor adapts an inference.Model (local ONNX or a remote Open
// Inference Protocol server) to Predictor: rows go through
// inference.PredictRows and the scores come back (class probabilities for
// classifiers, values for regressors).
type ModelPredictor struct {
	Model inference.Model
	// Names is filled with the score names (class labels) after a call.
	Names []string
}

// Predict implements Predictor.
func (m *ModelPredictor) Predict(ctx context.Context, rows [][]float64) ([][]float64, error) {
	p, err := inference.PredictRows(ctx, m.Model, rows)
	if err != nil {
		return nil, err
	}
	if m.Names == nil {
		m.Names = p.ScoreNames
	}
	return p.Scores, nil
}
