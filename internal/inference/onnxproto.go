package inference

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Decoding of the parts of onnx/onnx.proto the evaluator needs, straight
// from the wire format. Field numbers are from onnx.proto (IR version 10).

// Bounds on a decoded model.
const (
	maxNodes       = 100_000
	maxAttrValues  = 1 << 24
	maxNameLen     = 4096
	maxGraphValues = 1 << 16 // inputs, outputs, initializers
)

// ONNX TensorProto.DataType values.
const (
	dtUndefined = 0
	dtFloat     = 1
	dtUint8     = 2
	dtInt8      = 3
	dtUint16    = 4
	dtInt16     = 5
	dtInt32     = 6
	dtInt64     = 7
	dtString    = 8
	dtBool      = 9
	dtFloat16   = 10
	dtDouble    = 11
	dtUint32    = 12
	dtUint64    = 13
)

type protoModel struct {
	irVersion int64
	opsets    map[string]int64
	producer  string
	graph     protoGraph
}

type protoGraph struct {
	name    string
	nodes   []protoNode
	inits   []*protoTensor
	inputs  []valueInfo
	outputs []valueInfo
}

type protoNode struct {
	name, op, domain string
	inputs, outputs  []string
	attrs            map[string]*protoAttr
}

type protoAttr struct {
	name    string
	typ     int64
	f       float32
	i       int64
	s       []byte
	t       *protoTensor
	floats  []float32
	ints    []int64
	strings [][]byte
	hasT    bool
}

type protoTensor struct {
	name     string
	dims     []int64
	dt       int64
	raw      []byte
	hasRaw   bool
	floats   []float32
	int32s   []int64 // int32_data (also bool, int8/16, uint8/16, float16 bits)
	int64s   []int64
	doubles  []float64
	uint64s  []uint64
	strings  [][]byte
	external map[string]string
	location int64
}

// valueKind is the type of a graph input or output.
type valueKind int

const (
	kindTensor valueKind = iota
	kindSeqMap           // sequence(map(K, V)): ZipMap output
	kindOther
)

type valueInfo struct {
	name   string
	kind   valueKind
	elem   int64   // tensor element type (map value type for kindSeqMap)
	key    int64   // map key type
	dims   []int64 // -1 for symbolic or absent dimensions
	ranked bool
}

// fieldFunc receives one field: v for varint/fixed types, b for bytes.
type fieldFunc func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error

// walkFields calls fn for every field of message b.
func walkFields(b []byte, fn fieldFunc) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: bad tag: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		var payload []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			payload, n = protowire.ConsumeBytes(b)
		default:
			return fmt.Errorf("%w: field %d has unsupported wire type %d", ErrMalformed, num, typ)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, payload); err != nil {
			return err
		}
	}
	return nil
}

func str(b []byte) (string, error) {
	if len(b) > maxNameLen {
		return "", fmt.Errorf("%w: name of %d bytes", ErrLimit, len(b))
	}
	return string(b), nil
}

// repeated appends one element or a packed run of them.
func repeatedVarint(dst []int64, typ protowire.Type, v uint64, b []byte) ([]int64, error) {
	if typ == protowire.VarintType {
		return append(dst, int64(v)), nil
	}
	if typ != protowire.BytesType {
		return dst, fmt.Errorf("%w: varint field with wire type %d", ErrMalformed, typ)
	}
	for len(b) > 0 {
		x, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return dst, fmt.Errorf("%w: packed varint", ErrMalformed)
		}
		if len(dst) >= maxAttrValues {
			return dst, fmt.Errorf("%w: more than %d values", ErrLimit, maxAttrValues)
		}
		dst = append(dst, int64(x))
		b = b[n:]
	}
	return dst, nil
}

func repeatedFloat(dst []float32, typ protowire.Type, v uint64, b []byte) ([]float32, error) {
	if typ == protowire.Fixed32Type {
		return append(dst, math.Float32frombits(uint32(v))), nil
	}
	if typ != protowire.BytesType || len(b)%4 != 0 {
		return dst, fmt.Errorf("%w: float field", ErrMalformed)
	}
	if len(dst)+len(b)/4 > maxAttrValues {
		return dst, fmt.Errorf("%w: more than %d values", ErrLimit, maxAttrValues)
	}
	for i := 0; i < len(b); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
	}
	return dst, nil
}

func repeatedFixed64(dst []uint64, typ protowire.Type, v uint64, b []byte) ([]uint64, error) {
	if typ == protowire.Fixed64Type {
		return append(dst, v), nil
	}
	if typ != protowire.BytesType || len(b)%8 != 0 {
		return dst, fmt.Errorf("%w: 64-bit field", ErrMalformed)
	}
	if len(dst)+len(b)/8 > maxAttrValues {
		return dst, fmt.Errorf("%w: more than %d values", ErrLimit, maxAttrValues)
	}
	for i := 0; i < len(b); i += 8 {
		dst = append(dst, binary.LittleEndian.Uint64(b[i:]))
	}
	return dst, nil
}

func decodeModel(b []byte) (*protoModel, error) {
	m := &protoModel{opsets: map[string]int64{}}
	sawGraph := false
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		switch num {
		case 1:
			m.irVersion = int64(v)
		case 2:
			m.producer, _ = str(p)
		case 7:
			if typ != protowire.BytesType {
				return fmt.Errorf("%w: graph field", ErrMalformed)
			}
			sawGraph = true
			return decodeGraph(p, &m.graph)
		case 8:
			var domain string
			var version int64
			err := walkFields(p, func(num protowire.Number, _ protowire.Type, v uint64, p []byte) error {
				switch num {
				case 1:
					domain, _ = str(p)
				case 2:
					version = int64(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(m.opsets) > 64 {
				return fmt.Errorf("%w: too many opset imports", ErrLimit)
			}
			m.opsets[domain] = version
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !sawGraph {
		return nil, fmt.Errorf("%w: no graph (not an ONNX model?)", ErrMalformed)
	}
	return m, nil
}

func decodeGraph(b []byte, g *protoGraph) error {
	return walkFields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		if typ != protowire.BytesType && num != 0 {
			switch num {
			case 1, 2, 5, 11, 12, 13:
				return fmt.Errorf("%w: graph field %d has wire type %d", ErrMalformed, num, typ)
			}
			return nil
		}
		switch num {
		case 1:
			if len(g.nodes) >= maxNodes {
				return fmt.Errorf("%w: more than %d nodes", ErrLimit, maxNodes)
			}
			n, err := decodeNode(p)
			if err != nil {
				return err
			}
			g.nodes = append(g.nodes, n)
		case 2:
			g.name, _ = str(p)
		case 5:
			if len(g.inits) >= maxGraphValues {
				return fmt.Errorf("%w: more than %d initializers", ErrLimit, maxGraphValues)
			}
			t, err := decodeTensorProto(p)
			if err != nil {
				return err
			}
			g.inits = append(g.inits, t)
		case 11, 12:
			if len(g.inputs)+len(g.outputs) >= maxGraphValues {
				return fmt.Errorf("%w: more than %d graph inputs and outputs", ErrLimit, maxGraphValues)
			}
			vi, err := decodeValueInfo(p)
			if err != nil {
				return err
			}
			if num == 11 {
				g.inputs = append(g.inputs, vi)
			} else {
				g.outputs = append(g.outputs, vi)
			}
		case 15:
			return fmt.Errorf("%w: sparse initializers", ErrUnsupported)
		}
		return nil
	})
}

func decodeNode(b []byte) (protoNode, error) {
	n := protoNode{attrs: map[string]*protoAttr{}}
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		var err error
		var s string
		switch num {
		case 1, 2:
			if s, err = str(p); err != nil {
				return err
			}
			if len(n.inputs)+len(n.outputs) > 4096 {
				return fmt.Errorf("%w: node with too many inputs/outputs", ErrLimit)
			}
			if num == 1 {
				n.inputs = append(n.inputs, s)
			} else {
				n.outputs = append(n.outputs, s)
			}
		case 3:
			n.name, err = str(p)
		case 4:
			n.op, err = str(p)
		case 7:
			n.domain, err = str(p)
		case 5:
			a, err := decodeAttr(p)
			if err != nil {
				return fmt.Errorf("node %q: %w", n.name, err)
			}
			if len(n.attrs) > 256 {
				return fmt.Errorf("%w: node with too many attributes", ErrLimit)
			}
			n.attrs[a.name] = a
		}
		return err
	})
	return n, err
}

func decodeAttr(b []byte) (*protoAttr, error) {
	a := &protoAttr{}
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		var err error
		switch num {
		case 1:
			a.name, err = str(p)
		case 2:
			if typ == protowire.Fixed32Type {
				a.f = math.Float32frombits(uint32(v))
			}
		case 3:
			a.i = int64(v)
		case 4:
			a.s = p
		case 5:
			if typ != protowire.BytesType {
				return fmt.Errorf("%w: attribute tensor", ErrMalformed)
			}
			a.t, err = decodeTensorProto(p)
			a.hasT = true
		case 7:
			a.floats, err = repeatedFloat(a.floats, typ, v, p)
		case 8:
			a.ints, err = repeatedVarint(a.ints, typ, v, p)
		case 9:
			if len(a.strings) >= maxAttrValues {
				return fmt.Errorf("%w: more than %d strings", ErrLimit, maxAttrValues)
			}
			a.strings = append(a.strings, p)
		case 20:
			a.typ = int64(v)
		case 21:
			return fmt.Errorf("%w: attribute references (functions)", ErrUnsupported)
		}
		return err
	})
	return a, err
}

func decodeTensorProto(b []byte) (*protoTensor, error) {
	t := &protoTensor{}
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		var err error
		switch num {
		case 1:
			t.dims, err = repeatedVarint(t.dims, typ, v, p)
			if len(t.dims) > 16 {
				return fmt.Errorf("%w: tensor of rank %d", ErrLimit, len(t.dims))
			}
		case 2:
			t.dt = int64(v)
		case 3:
			return fmt.Errorf("%w: segmented tensors", ErrUnsupported)
		case 4:
			t.floats, err = repeatedFloat(t.floats, typ, v, p)
		case 5:
			t.int32s, err = repeatedVarint(t.int32s, typ, v, p)
		case 6:
			if len(t.strings) >= maxAttrValues {
				return fmt.Errorf("%w: more than %d strings", ErrLimit, maxAttrValues)
			}
			t.strings = append(t.strings, p)
		case 7:
			t.int64s, err = repeatedVarint(t.int64s, typ, v, p)
		case 8:
			t.name, err = str(p)
		case 9:
			t.raw, t.hasRaw = p, true
		case 10:
			var u []uint64
			u, err = repeatedFixed64(nil, typ, v, p)
			for _, x := range u {
				t.doubles = append(t.doubles, math.Float64frombits(x))
			}
		case 11:
			var u []int64
			u, err = repeatedVarint(nil, typ, v, p)
			for _, x := range u {
				t.uint64s = append(t.uint64s, uint64(x))
			}
		case 13:
			var key, val string
			err = walkFields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
				if num == 1 {
					key, _ = str(p)
				} else if num == 2 {
					val, _ = str(p)
				}
				return nil
			})
			if t.external == nil {
				t.external = map[string]string{}
			}
			if len(t.external) > 16 {
				return fmt.Errorf("%w: external data entries", ErrLimit)
			}
			t.external[key] = val
		case 14:
			t.location = int64(v)
		}
		return err
	})
	return t, err
}

func decodeValueInfo(b []byte) (valueInfo, error) {
	vi := valueInfo{kind: kindOther}
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		switch num {
		case 1:
			s, err := str(p)
			vi.name = s
			return err
		case 2:
			return decodeType(p, &vi, 0)
		}
		return nil
	})
	return vi, err
}

// decodeType reads a TypeProto: tensors, and sequence(map) for ZipMap.
func decodeType(b []byte, vi *valueInfo, depth int) error {
	if depth > 4 {
		return nil
	}
	return walkFields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1: // tensor_type
			if depth > 0 {
				return nil
			}
			vi.kind = kindTensor
			return walkFields(p, func(num protowire.Number, _ protowire.Type, v uint64, p []byte) error {
				switch num {
				case 1:
					vi.elem = int64(v)
				case 2:
					vi.ranked = true
					return walkFields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
						if num != 1 {
							return nil
						}
						if len(vi.dims) >= 16 {
							return fmt.Errorf("%w: value of rank > 16", ErrLimit)
						}
						d := int64(-1)
						err := walkFields(p, func(num protowire.Number, typ protowire.Type, v uint64, _ []byte) error {
							if num == 1 && typ == protowire.VarintType && int64(v) >= 0 {
								d = int64(v)
							}
							return nil
						})
						vi.dims = append(vi.dims, d)
						return err
					})
				}
				return nil
			})
		case 4: // sequence_type
			if depth > 0 {
				return nil
			}
			return walkFields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
				if num != 1 {
					return nil
				}
				return walkFields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
					if num != 5 { // map_type
						return nil
					}
					vi.kind = kindSeqMap
					return walkFields(p, func(num protowire.Number, _ protowire.Type, v uint64, p []byte) error {
						switch num {
						case 1:
							vi.key = int64(v)
						case 2:
							var inner valueInfo
							if err := decodeType(p, &inner, 0); err != nil {
								return err
							}
							vi.elem = inner.elem
						}
						return nil
					})
				})
			})
		}
		return nil
	})
}
