package gateway

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
)

// Plain JSON models take {"<input>": [[numbers], …]} (or one row) and
// answer with an object holding label and scores fields.

// parseJSONRows reads the rows of a plain JSON request. Requests that are
// not objects, or lack the input field, give no rows (and are still
// proxied, subject to limits and tiers).
func parseJSONRows(body []byte, field string) ([][]float64, int, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil {
		return nil, 0, badRequest("invalid request JSON: %v", err)
	}
	if dec.More() {
		return nil, 0, badRequest("invalid request JSON: trailing data")
	}
	raw, ok := obj[field]
	if !ok {
		return nil, 1, nil
	}
	var rows [][]float64
	if err := json.Unmarshal(raw, &rows); err != nil {
		var row []float64
		if err := json.Unmarshal(raw, &row); err != nil {
			return nil, 0, badRequest("%q must be a list of rows of numbers", field)
		}
		rows = [][]float64{row}
	}
	if len(rows) > maxValues {
		return nil, 0, badRequest("too many rows")
	}
	return rows, len(rows), nil
}

// hardenJSON rewrites a plain JSON response for tier t and returns the
// predicted classes per row when it can tell them.
func hardenJSON(body []byte, t Tier, jm *JSONModel, o *Output, rng *rand.Rand) ([]byte, []int, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		if t >= TierFull {
			return body, nil, nil
		}
		return nil, nil, badRequest("upstream response is not a JSON object")
	}
	var scores [][]float64
	if raw, ok := obj[jm.Scores]; ok {
		if json.Unmarshal(raw, &scores) != nil {
			var row []float64
			if json.Unmarshal(raw, &row) == nil {
				scores = [][]float64{row}
			}
		}
	}
	var classes []int
	if raw, ok := obj[jm.Label]; ok {
		var ls []int
		if json.Unmarshal(raw, &ls) == nil {
			classes = ls
		} else if var1 := 0; json.Unmarshal(raw, &var1) == nil {
			classes = []int{var1}
		}
	}
	if classes == nil && scores != nil {
		for _, row := range scores {
			classes = append(classes, argmaxRows(row, 1)[0])
		}
	}
	if t >= TierFull {
		return body, classes, nil
	}
	out := map[string]any{}
	if raw, ok := obj[jm.Label]; ok {
		out[jm.Label] = raw
	} else if classes != nil {
		out[jm.Label] = classes
	} else {
		return nil, nil, badRequest("the model's response has no %q or %q field to harden", jm.Label, jm.Scores)
	}
	if t == TierScores && scores != nil {
		for _, row := range scores {
			hardenScores(row, len(row), o, rng)
		}
		out[jm.Scores] = scores
	}
	b, err := json.Marshal(out)
	return b, classes, err
}
