package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/mlsec/mlsec/internal/inference"
)

// The Open Inference Protocol v2 REST shapes the gateway reads and
// rewrites. Tensor data stays raw until needed.
type oipTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

type oipRequest struct {
	ID         string          `json:"id,omitempty"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	Inputs     []oipTensor     `json:"inputs"`
	Outputs    json.RawMessage `json:"outputs,omitempty"`
}

type oipRequestOutput struct {
	Name string `json:"name"`
}

type oipResponse struct {
	ModelName    string          `json:"model_name"`
	ModelVersion string          `json:"model_version,omitempty"`
	ID           string          `json:"id,omitempty"`
	Parameters   json.RawMessage `json:"parameters,omitempty"`
	Outputs      []oipTensor     `json:"outputs"`
}

// Bounds on what the gateway parses.
const (
	maxTensors  = 256
	maxRank     = 16
	maxValues   = 1 << 24
	maxJSONNest = 32
)

// errBadRequest wraps validation failures (400).
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// parsedRequest is an inference request with its numeric inputs decoded.
type parsedRequest struct {
	req    oipRequest
	values [][]float64 // per input; nil for BYTES
	batch  int
}

// parseInferRequest decodes and checks the structure of an OIP request:
// known datatypes, shapes within bounds, value counts matching shapes,
// one batch size across inputs.
func parseInferRequest(body []byte) (*parsedRequest, error) {
	var p parsedRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p.req); err != nil {
		return nil, badRequest("invalid request JSON: %v", err)
	}
	if dec.More() {
		return nil, badRequest("invalid request JSON: trailing data")
	}
	if len(p.req.Inputs) == 0 {
		return nil, badRequest("no inputs")
	}
	if len(p.req.Inputs) > maxTensors {
		return nil, badRequest("more than %d inputs", maxTensors)
	}
	p.values = make([][]float64, len(p.req.Inputs))
	p.batch = -1
	for i := range p.req.Inputs {
		t := &p.req.Inputs[i]
		dt := inference.DataType(t.Datatype)
		if !dt.Valid() {
			return nil, badRequest("input %q: unknown datatype %q", t.Name, t.Datatype)
		}
		if len(t.Shape) > maxRank {
			return nil, badRequest("input %q: rank above %d", t.Name, maxRank)
		}
		n, ok := shapeLen(t.Shape)
		if !ok {
			return nil, badRequest("input %q: invalid shape %v", t.Name, t.Shape)
		}
		b := 1
		if len(t.Shape) > 0 {
			b = int(t.Shape[0])
		}
		if p.batch >= 0 && b != p.batch {
			return nil, badRequest("inputs disagree on the batch size (%d and %d)", p.batch, b)
		}
		p.batch = b
		if dt.Class() == inference.ClassBytes {
			var vals []json.RawMessage
			if err := flattenRaw(t.Data, &vals, 0, n); err != nil || len(vals) != n {
				return nil, badRequest("input %q: data must hold %d values", t.Name, n)
			}
			continue
		}
		vals, err := parseNumbers(t.Data, n, dt == inference.Bool)
		if err != nil {
			return nil, badRequest("input %q: %v", t.Name, err)
		}
		p.values[i] = vals
	}
	return &p, nil
}

// shapeLen multiplies dimensions, failing on negative ones or more than
// maxValues values.
func shapeLen(shape []int64) (int, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxValues/d) {
			return 0, false
		}
		n *= d
	}
	return int(n), n <= maxValues
}

// parseNumbers reads flat or nested JSON arrays of numbers (or booleans)
// holding exactly n values.
func parseNumbers(raw json.RawMessage, n int, boolean bool) ([]float64, error) {
	out := make([]float64, 0, n)
	var flat []float64
	if !boolean && json.Unmarshal(raw, &flat) == nil {
		out = flat
	} else {
		var vals []json.RawMessage
		if err := flattenRaw(raw, &vals, 0, n); err != nil {
			return nil, err
		}
		for _, v := range vals {
			switch string(v) {
			case "true":
				out = append(out, 1)
				continue
			case "false":
				out = append(out, 0)
				continue
			}
			if boolean {
				return nil, errors.New("BOOL data must be true or false")
			}
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return nil, fmt.Errorf("value %.20s is not a number", v)
			}
			out = append(out, f)
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("data holds %d values, shape needs %d", len(out), n)
	}
	return out, nil
}

// flattenRaw appends the leaves of nested JSON arrays to out.
func flattenRaw(raw json.RawMessage, out *[]json.RawMessage, depth, limit int) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		*out = append(*out, raw)
		if len(*out) > limit {
			return errors.New("too many values")
		}
		return nil
	}
	if depth > maxJSONNest {
		return errors.New("data nested too deeply")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return errors.New("data is not a JSON array")
	}
	for _, it := range items {
		if err := flattenRaw(it, out, depth+1, limit); err != nil {
			return err
		}
	}
	return nil
}

// rows lays the numeric inputs out as one feature vector per batch row,
// inputs in metadata order (else request order). BYTES inputs are skipped.
func (p *parsedRequest) rows(order []string) [][]float64 {
	if p.batch <= 0 {
		return nil
	}
	idx := make([]int, 0, len(p.req.Inputs))
	for _, name := range order {
		if i := slices.IndexFunc(p.req.Inputs, func(t oipTensor) bool { return t.Name == name }); i >= 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) != len(p.req.Inputs) {
		idx = idx[:0]
		for i := range p.req.Inputs {
			idx = append(idx, i)
		}
	}
	width := 0
	for _, i := range idx {
		if p.values[i] != nil {
			width += len(p.values[i]) / p.batch
		}
	}
	if width == 0 {
		return nil
	}
	rows := make([][]float64, p.batch)
	flat := make([]float64, 0, width*p.batch)
	for r := range rows {
		start := len(flat)
		for _, i := range idx {
			v := p.values[i]
			if v == nil {
				continue
			}
			per := len(v) / p.batch
			flat = append(flat, v[r*per:(r+1)*per]...)
		}
		rows[r] = flat[start:len(flat):len(flat)]
	}
	return rows
}

// validate checks a request against the model's metadata: input names,
// datatypes, shapes and requested outputs.
func (p *parsedRequest) validate(md *inference.Metadata) error {
	seen := map[string]bool{}
	for i := range p.req.Inputs {
		t := &p.req.Inputs[i]
		k := slices.IndexFunc(md.Inputs, func(m inference.TensorMeta) bool { return m.Name == t.Name })
		if k < 0 {
			return badRequest("unknown input %q (model inputs: %s)", t.Name, tensorNames(md.Inputs))
		}
		if seen[t.Name] {
			return badRequest("input %q given twice", t.Name)
		}
		seen[t.Name] = true
		m := md.Inputs[k]
		if string(m.Datatype) != t.Datatype {
			return badRequest("input %q: datatype %s, model wants %s", t.Name, t.Datatype, m.Datatype)
		}
		if !shapeMatches(m.Shape, t.Shape) {
			return badRequest("input %q: shape %v, model wants %v", t.Name, t.Shape, m.Shape)
		}
	}
	for _, m := range md.Inputs {
		if !seen[m.Name] {
			return badRequest("missing input %q", m.Name)
		}
	}
	if len(p.req.Outputs) > 0 {
		var outs []oipRequestOutput
		if err := json.Unmarshal(p.req.Outputs, &outs); err != nil {
			return badRequest("outputs must be a list of {\"name\": …}")
		}
		for _, o := range outs {
			if !slices.ContainsFunc(md.Outputs, func(m inference.TensorMeta) bool { return m.Name == o.Name }) {
				return badRequest("unknown output %q (model outputs: %s)", o.Name, tensorNames(md.Outputs))
			}
		}
	}
	return nil
}

func tensorNames(ts []inference.TensorMeta) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// shapeMatches compares a request shape with a metadata shape where -1 is
// any size; metadata [-1] alone matches any shape.
func shapeMatches(meta, got []int64) bool {
	if len(meta) == 1 && meta[0] == -1 {
		return true
	}
	if len(meta) != len(got) {
		return false
	}
	for k, d := range meta {
		if d >= 0 && got[k] != d {
			return false
		}
	}
	return true
}

// outputRoles picks the label and scores outputs of a response.
func outputRoles(outs []oipTensor, o *Output) (label, scores int) {
	label, scores = -1, -1
	for i := range outs {
		t := &outs[i]
		dt := inference.DataType(t.Datatype)
		switch {
		case o != nil && o.LabelOutput != "":
			if t.Name == o.LabelOutput {
				label = i
			}
		case label < 0 && (dt.Class() == inference.ClassInt || dt.Class() == inference.ClassBytes) && len(t.Shape) <= 2:
			label = i
		}
		switch {
		case o != nil && o.ScoresOutput != "":
			if t.Name == o.ScoresOutput {
				scores = i
			}
		case scores < 0 && dt.Class() == inference.ClassFloat:
			scores = i
		}
	}
	return label, scores
}

// predictedClasses returns one class per row: the label output when it is
// integer, else the arg max of the scores; nil when neither exists.
func predictedClasses(outs []oipTensor, o *Output, batch int) []int {
	label, scores := outputRoles(outs, o)
	if label >= 0 && inference.DataType(outs[label].Datatype).Class() == inference.ClassInt {
		if n, ok := shapeLen(outs[label].Shape); ok {
			if v, err := parseNumbers(outs[label].Data, n, outs[label].Datatype == "BOOL"); err == nil && len(v) == batch {
				cls := make([]int, batch)
				for i, x := range v {
					cls[i] = int(x)
				}
				return cls
			}
		}
	}
	if scores >= 0 {
		t := &outs[scores]
		if n, ok := shapeLen(t.Shape); ok && batch > 0 && n%batch == 0 {
			if v, err := parseNumbers(t.Data, n, false); err == nil {
				return argmaxRows(v, batch)
			}
		}
	}
	if label >= 0 {
		// BYTES labels: hash them to small integers.
		var vals []json.RawMessage
		if n, ok := shapeLen(outs[label].Shape); ok && flattenRaw(outs[label].Data, &vals, 0, n) == nil && len(vals) == batch {
			cls := make([]int, batch)
			for i, v := range vals {
				h := 0
				for _, c := range v {
					h = h*31 + int(c)
				}
				cls[i] = h & 0xffff
			}
			return cls
		}
	}
	return nil
}

func argmaxRows(v []float64, batch int) []int {
	per := len(v) / batch
	cls := make([]int, batch)
	for r := range batch {
		best := 0
		for k := 1; k < per; k++ {
			if v[r*per+k] > v[r*per+best] {
				best = k
			}
		}
		cls[r] = best
	}
	return cls
}

// hardenOIP rewrites a response for tier t: label keeps only the label
// output (derived from the scores when the model has none); scores keeps
// the label and the scores, perturbed, cut to top-k and rounded; full and
// above are untouched.
func hardenOIP(resp *oipResponse, t Tier, o *Output, batch int, rng *rand.Rand) error {
	if t >= TierFull {
		return nil
	}
	label, scores := outputRoles(resp.Outputs, o)
	var keep []oipTensor
	switch {
	case label >= 0:
		keep = append(keep, resp.Outputs[label])
	case scores >= 0:
		st := &resp.Outputs[scores]
		n, ok := shapeLen(st.Shape)
		if !ok || batch <= 0 || n%batch != 0 {
			return errors.New("cannot derive labels from the scores output")
		}
		v, err := parseNumbers(st.Data, n, false)
		if err != nil {
			return fmt.Errorf("scores output: %w", err)
		}
		cls := argmaxRows(v, batch)
		data, _ := json.Marshal(cls)
		name := "label"
		if o != nil && o.LabelOutput != "" {
			name = o.LabelOutput
		}
		keep = append(keep, oipTensor{Name: name, Datatype: "INT64", Shape: []int64{int64(batch)}, Data: data})
	default:
		return errors.New("the model has no label or scores output to harden")
	}
	if t == TierScores && scores >= 0 {
		st := resp.Outputs[scores]
		n, ok := shapeLen(st.Shape)
		if !ok || batch <= 0 || n%batch != 0 {
			return errors.New("scores output shape does not fit the batch")
		}
		v, err := parseNumbers(st.Data, n, false)
		if err != nil {
			return fmt.Errorf("scores output: %w", err)
		}
		hardenScores(v, n/batch, o, rng)
		st.Data = formatFloats(v)
		st.Parameters = nil
		keep = append(keep, st)
	}
	resp.Outputs = keep
	resp.Parameters = nil
	return nil
}

// hardenScores perturbs, cuts and rounds per-row scores in place.
func hardenScores(v []float64, per int, o *Output, rng *rand.Rand) {
	round, topK, noise := 3, 0, 0.0
	if o != nil {
		if o.Round != nil {
			round = *o.Round
		}
		topK, noise = o.TopK, o.Noise
	}
	if per <= 0 {
		return
	}
	for r := 0; r+per <= len(v); r += per {
		row := v[r : r+per]
		if noise > 0 && rng != nil {
			sum := 0.0
			for k := range row {
				row[k] = min(1, max(0, row[k]+noise*rng.NormFloat64()))
				sum += row[k]
			}
			if sum > 0 {
				for k := range row {
					row[k] /= sum
				}
			}
		}
		if topK > 0 && topK < per {
			sorted := slices.Clone(row)
			slices.SortFunc(sorted, func(a, b float64) int { return -cmpFloat(a, b) })
			cut := sorted[topK-1]
			kept := 0
			for k := range row {
				if row[k] >= cut && kept < topK {
					kept++
				} else {
					row[k] = 0
				}
			}
		}
		if round >= 0 {
			p := math.Pow(10, float64(round))
			for k := range row {
				row[k] = math.Round(row[k]*p) / p
			}
		}
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func formatFloats(v []float64) json.RawMessage {
	b := make([]byte, 0, len(v)*8+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
	}
	return append(b, ']')
}
