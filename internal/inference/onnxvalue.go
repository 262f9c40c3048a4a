package inference

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// value is a tensor inside the evaluator. Floating-point tensors compute in
// float64 whatever their declared type; integers and booleans in int64;
// strings as Go strings.
type value struct {
	dt    int64
	shape []int
	f     []float64
	i     []int64
	s     []string
}

// maxEvalElements bounds every tensor the evaluator creates, and
// maxRunElements all the tensors one Predict creates.
const (
	maxEvalElements = 1 << 24
	maxRunElements  = 1 << 25
)

func isFloatDT(dt int64) bool { return dt == dtFloat || dt == dtDouble || dt == dtFloat16 }
func isIntDT(dt int64) bool {
	switch dt {
	case dtUint8, dtInt8, dtUint16, dtInt16, dtInt32, dtInt64, dtBool, dtUint32, dtUint64:
		return true
	}
	return false
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// checkShape verifies a shape is non-negative and within bounds.
func checkShape(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrBadInput, shape)
		}
		if d > 0 && n > maxEvalElements/d {
			return 0, fmt.Errorf("%w: tensor of shape %v", ErrLimit, shape)
		}
		n *= d
	}
	return n, nil
}

func newFloat(dt int64, shape []int) (*value, error) {
	n, err := checkShape(shape)
	if err != nil {
		return nil, err
	}
	return &value{dt: dt, shape: shape, f: make([]float64, n)}, nil
}

func (v *value) size() int {
	switch {
	case isFloatDT(v.dt):
		return len(v.f)
	case v.dt == dtString:
		return len(v.s)
	}
	return len(v.i)
}

// withShape returns v sharing data under another shape.
func (v *value) withShape(shape []int) *value {
	return &value{dt: v.dt, shape: shape, f: v.f, i: v.i, s: v.s}
}

// float64s returns the values as float64 (ints converted).
func (v *value) float64s() ([]float64, error) {
	switch {
	case isFloatDT(v.dt):
		return v.f, nil
	case isIntDT(v.dt):
		out := make([]float64, len(v.i))
		for k, x := range v.i {
			out[k] = float64(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: string tensor where numbers are needed", ErrBadInput)
}

// int64s returns integer values (floats truncated).
func (v *value) int64s() ([]int64, error) {
	switch {
	case isIntDT(v.dt):
		return v.i, nil
	case isFloatDT(v.dt):
		out := make([]int64, len(v.f))
		for k, x := range v.f {
			out[k] = int64(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: string tensor where integers are needed", ErrBadInput)
}

// tensorValue turns a TensorProto into a value. readExternal loads external
// data (nil: external data refused).
func tensorValue(t *protoTensor, readExternal func(map[string]string) ([]byte, error)) (*value, error) {
	shape := make([]int, len(t.dims))
	for k, d := range t.dims {
		if d < 0 || d > maxEvalElements {
			return nil, fmt.Errorf("%w: tensor %q has dimension %d", ErrMalformed, t.name, d)
		}
		shape[k] = int(d)
	}
	n, err := checkShape(shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.name, err)
	}
	raw, hasRaw := t.raw, t.hasRaw
	if t.location == 1 {
		if readExternal == nil {
			return nil, fmt.Errorf("%w: tensor %q uses external data", ErrUnsupported, t.name)
		}
		raw, err = readExternal(t.external)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.name, err)
		}
		hasRaw = true
	}
	v := &value{dt: t.dt, shape: shape}
	bad := func(got int) error {
		return fmt.Errorf("%w: tensor %q of shape %v holds %d values", ErrMalformed, t.name, shape, got)
	}
	width := map[int64]int{dtFloat: 4, dtDouble: 8, dtFloat16: 2, dtUint8: 1, dtInt8: 1, dtUint16: 2,
		dtInt16: 2, dtInt32: 4, dtInt64: 8, dtBool: 1, dtUint32: 4, dtUint64: 8}[t.dt]
	switch {
	case t.dt == dtString:
		if len(t.strings) != n {
			return nil, bad(len(t.strings))
		}
		v.s = make([]string, n)
		for k, s := range t.strings {
			v.s[k] = string(s)
		}
		return v, nil
	case width == 0:
		return nil, fmt.Errorf("%w: tensor %q has data type %d", ErrUnsupported, t.name, t.dt)
	case hasRaw:
		if len(raw) != n*width {
			return nil, bad(len(raw) / width)
		}
		if isFloatDT(t.dt) {
			v.f = make([]float64, n)
		} else {
			v.i = make([]int64, n)
		}
		for k := range n {
			b := raw[k*width:]
			switch t.dt {
			case dtFloat:
				v.f[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
			case dtDouble:
				v.f[k] = math.Float64frombits(binary.LittleEndian.Uint64(b))
			case dtFloat16:
				v.f[k] = halfToFloat(binary.LittleEndian.Uint16(b))
			case dtUint8, dtBool:
				v.i[k] = int64(b[0])
			case dtInt8:
				v.i[k] = int64(int8(b[0]))
			case dtUint16:
				v.i[k] = int64(binary.LittleEndian.Uint16(b))
			case dtInt16:
				v.i[k] = int64(int16(binary.LittleEndian.Uint16(b)))
			case dtInt32:
				v.i[k] = int64(int32(binary.LittleEndian.Uint32(b)))
			case dtUint32:
				v.i[k] = int64(binary.LittleEndian.Uint32(b))
			case dtInt64, dtUint64:
				v.i[k] = int64(binary.LittleEndian.Uint64(b))
			}
		}
		return v, nil
	}
	switch t.dt {
	case dtFloat:
		if len(t.floats) != n {
			return nil, bad(len(t.floats))
		}
		v.f = make([]float64, n)
		for k, x := range t.floats {
			v.f[k] = float64(x)
		}
	case dtDouble:
		if len(t.doubles) != n {
			return nil, bad(len(t.doubles))
		}
		v.f = slices.Clone(t.doubles)
	case dtFloat16:
		if len(t.int32s) != n {
			return nil, bad(len(t.int32s))
		}
		v.f = make([]float64, n)
		for k, x := range t.int32s {
			v.f[k] = halfToFloat(uint16(x))
		}
	case dtInt64:
		if len(t.int64s) != n {
			return nil, bad(len(t.int64s))
		}
		v.i = slices.Clone(t.int64s)
	case dtUint32, dtUint64:
		if len(t.uint64s) != n {
			return nil, bad(len(t.uint64s))
		}
		v.i = make([]int64, n)
		for k, x := range t.uint64s {
			v.i[k] = int64(x)
		}
	default: // int32_data carries the small integer types and bool
		if len(t.int32s) != n {
			return nil, bad(len(t.int32s))
		}
		v.i = make([]int64, n)
		for k, x := range t.int32s {
			v.i[k] = int64(int32(x))
		}
		if t.dt == dtUint8 || t.dt == dtUint16 || t.dt == dtBool {
			for k, x := range t.int32s {
				v.i[k] = int64(uint32(x))
			}
		}
	}
	return v, nil
}

func halfToFloat(h uint16) float64 {
	sign := float64(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// roundTo rounds x to the precision of dt (float32 for FLOAT).
func roundTo(dt int64, x float64) float64 {
	if dt == dtFloat {
		return float64(float32(x))
	}
	return x
}

// oipType maps an ONNX element type to an OIP datatype.
func oipType(dt int64) (DataType, bool) {
	switch dt {
	case dtFloat:
		return FP32, true
	case dtDouble:
		return FP64, true
	case dtFloat16:
		return FP16, true
	case dtUint8:
		return Uint8, true
	case dtInt8:
		return Int8, true
	case dtUint16:
		return Uint16, true
	case dtInt16:
		return Int16, true
	case dtInt32:
		return Int32, true
	case dtInt64:
		return Int64, true
	case dtString:
		return Bytes, true
	case dtBool:
		return Bool, true
	case dtUint32:
		return Uint32, true
	case dtUint64:
		return Uint64, true
	}
	return "", false
}
