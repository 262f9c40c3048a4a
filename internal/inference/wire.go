package inference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The Open Inference Protocol v2 REST JSON shapes
// (https://github.com/kserve/open-inference-protocol/blob/main/specification/protocol/inference_rest.md).

type wireTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   DataType        `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

type wireRequestOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

type wireRequest struct {
	ID         string              `json:"id,omitempty"`
	Parameters map[string]any      `json:"parameters,omitempty"`
	Inputs     []wireTensor        `json:"inputs"`
	Outputs    []wireRequestOutput `json:"outputs,omitempty"`
}

type wireResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []wireTensor   `json:"outputs"`
}

type wireError struct {
	Error string `json:"error"`
}

type wireServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// encodeTensor renders t in OIP JSON with flat data.
func encodeTensor(t *Tensor) (wireTensor, error) {
	if err := t.Check(); err != nil {
		return wireTensor{}, err
	}
	var b bytes.Buffer
	b.WriteByte('[')
	switch t.Datatype.Class() {
	case ClassFloat:
		for i, v := range t.Float {
			if i > 0 {
				b.WriteByte(',')
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return wireTensor{}, fmt.Errorf("tensor %q: %v cannot be sent as JSON", t.Name, v)
			}
			bits := 64
			if t.Datatype != FP64 {
				bits = 32
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, bits))
		}
	case ClassInt:
		for i, v := range t.Int {
			if i > 0 {
				b.WriteByte(',')
			}
			if t.Datatype == Bool {
				b.WriteString(strconv.FormatBool(v != 0))
			} else if t.Datatype == Uint64 {
				b.WriteString(strconv.FormatUint(uint64(v), 10))
			} else {
				b.WriteString(strconv.FormatInt(v, 10))
			}
		}
	case ClassBytes:
		for i, v := range t.Bytes {
			if i > 0 {
				b.WriteByte(',')
			}
			s, err := json.Marshal(string(v))
			if err != nil {
				return wireTensor{}, err
			}
			b.Write(s)
		}
	}
	b.WriteByte(']')
	shape := t.Shape
	if shape == nil {
		shape = []int64{}
	}
	return wireTensor{Name: t.Name, Shape: shape, Datatype: t.Datatype, Data: b.Bytes()}, nil
}

// decodeTensor reads OIP JSON data, flat or nested, checking it against the
// datatype and shape.
func decodeTensor(w *wireTensor) (Tensor, error) {
	t := Tensor{Name: w.Name, Datatype: w.Datatype, Shape: w.Shape}
	if !w.Datatype.Valid() {
		return t, fmt.Errorf("%w: tensor %q: unknown datatype %q", ErrBadInput, w.Name, w.Datatype)
	}
	n := shapeSize(w.Shape)
	if n < 0 {
		return t, fmt.Errorf("%w: tensor %q: invalid shape %v", ErrBadInput, w.Name, w.Shape)
	}
	dec := json.NewDecoder(bytes.NewReader(w.Data))
	dec.UseNumber()
	count := 0
	depth := 0
	var perr error
	push := func(tok json.Token) bool {
		count++
		if count > n {
			perr = fmt.Errorf("%w: tensor %q: more than the %d values shape %v calls for", ErrBadInput, w.Name, n, w.Shape)
			return false
		}
		switch t.Datatype.Class() {
		case ClassFloat:
			num, ok := tok.(json.Number)
			if !ok {
				perr = fmt.Errorf("%w: tensor %q: %v is not a number", ErrBadInput, w.Name, tok)
				return false
			}
			v, err := strconv.ParseFloat(string(num), 64)
			if err != nil {
				perr = fmt.Errorf("%w: tensor %q: %v", ErrBadInput, w.Name, err)
				return false
			}
			if t.Datatype == FP32 {
				v = float64(float32(v))
			}
			t.Float = append(t.Float, v)
		case ClassInt:
			if t.Datatype == Bool {
				b, ok := tok.(bool)
				if !ok {
					perr = fmt.Errorf("%w: tensor %q: %v is not a boolean", ErrBadInput, w.Name, tok)
					return false
				}
				t.Int = append(t.Int, b2i(b))
				return true
			}
			num, ok := tok.(json.Number)
			if !ok {
				perr = fmt.Errorf("%w: tensor %q: %v is not an integer", ErrBadInput, w.Name, tok)
				return false
			}
			v, err := parseInt(string(num), t.Datatype)
			if err != nil {
				perr = fmt.Errorf("%w: tensor %q: %v", ErrBadInput, w.Name, err)
				return false
			}
			t.Int = append(t.Int, v)
		case ClassBytes:
			s, ok := tok.(string)
			if !ok {
				perr = fmt.Errorf("%w: tensor %q: %v is not a string", ErrBadInput, w.Name, tok)
				return false
			}
			t.Bytes = append(t.Bytes, []byte(s))
		}
		return true
	}
	if len(bytes.TrimSpace(w.Data)) == 0 {
		return t, fmt.Errorf("%w: tensor %q: no data", ErrBadInput, w.Name)
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" && depth == 0 {
				break
			}
			return t, fmt.Errorf("%w: tensor %q: data: %v", ErrBadInput, w.Name, err)
		}
		switch tok {
		case json.Delim('['):
			depth++
			if depth > 32 {
				return t, fmt.Errorf("%w: tensor %q: data nested too deeply", ErrBadInput, w.Name)
			}
			continue
		case json.Delim(']'):
			depth--
			continue
		case json.Delim('{'), json.Delim('}'):
			return t, fmt.Errorf("%w: tensor %q: data holds an object", ErrBadInput, w.Name)
		}
		if !push(tok) {
			return t, perr
		}
	}
	if count != n {
		return t, fmt.Errorf("%w: tensor %q: shape %v needs %d values, got %d", ErrBadInput, w.Name, w.Shape, n, count)
	}
	if t.Datatype.Class() == ClassFloat && t.Float == nil {
		t.Float = []float64{}
	}
	return t, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// parseInt parses an integer literal and checks it fits dt.
func parseInt(s string, dt DataType) (int64, error) {
	if dt == Uint64 {
		u, err := strconv.ParseUint(s, 10, 64)
		return int64(u), err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	lo, hi := intRange(dt)
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d out of range for %s", v, dt)
	}
	return v, nil
}

func intRange(dt DataType) (int64, int64) {
	switch dt {
	case Uint8:
		return 0, math.MaxUint8
	case Uint16:
		return 0, math.MaxUint16
	case Uint32:
		return 0, math.MaxUint32
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Int32:
		return math.MinInt32, math.MaxInt32
	case Bool:
		return 0, 1
	}
	return math.MinInt64, math.MaxInt64
}
