// Package inference queries machine-learning models through one small
// interface, whatever serves them.
//
// A [Model] describes its inputs and outputs ([Metadata]) and runs a batch
// ([Model.Predict]). Two implementations ship here:
//
//   - [Client] speaks the Open Inference Protocol v2 REST API (the "KServe v2"
//     protocol of KServe, Triton, MLServer and Seldon; see
//     https://github.com/kserve/open-inference-protocol) to a remote server;
//   - [ONNXModel] evaluates an ONNX file in pure Go for the operators that
//     tabular and small models use (scikit-learn conversions included: the
//     ai.onnx.ml tree ensembles, linear models, Normalizer, Scaler, ZipMap).
//
// [Server] exposes any Model over the same protocol (mlsec serve), so the
// two sides can be tried against each other.
//
// Tensors follow the OIP data model: a name, a datatype (FP32, INT64, BYTES
// …), a shape and the values flattened in row-major order. To keep callers
// simple a [Tensor] stores values in one of three Go slices by datatype
// class: floating point in Float, integers and booleans in Int, BYTES in
// Bytes.
//
// Most callers (fairness, explain, attack, mlsec predict) work on rows of
// numeric features; [PredictRows] turns rows into the model's input tensor
// and its outputs into labels and per-class scores.
//
// The interface is stable; implementations are safe for concurrent use.
package inference

import (
	"context"
	"errors"
	"fmt"
)

// Model is anything that can be queried for predictions.
type Model interface {
	// Metadata describes the model's name, inputs and outputs. Shapes use -1
	// for a variable dimension (normally the batch).
	Metadata(ctx context.Context) (Metadata, error)
	// Predict runs one batch. outputs names the outputs wanted; none means
	// all of them, in metadata order.
	Predict(ctx context.Context, inputs []Tensor, outputs ...string) ([]Tensor, error)
}

// DataType is an Open Inference Protocol tensor datatype.
type DataType string

// The OIP datatypes.
const (
	Bool   DataType = "BOOL"
	Uint8  DataType = "UINT8"
	Uint16 DataType = "UINT16"
	Uint32 DataType = "UINT32"
	Uint64 DataType = "UINT64"
	Int8   DataType = "INT8"
	Int16  DataType = "INT16"
	Int32  DataType = "INT32"
	Int64  DataType = "INT64"
	FP16   DataType = "FP16"
	FP32   DataType = "FP32"
	FP64   DataType = "FP64"
	Bytes  DataType = "BYTES"
)

// Class is how a datatype's values are stored in a Tensor.
type Class int

// Storage classes.
const (
	ClassInvalid Class = iota
	ClassFloat         // Tensor.Float
	ClassInt           // Tensor.Int (BOOL as 0/1)
	ClassBytes         // Tensor.Bytes
)

// Class reports where values of type d live in a Tensor.
func (d DataType) Class() Class {
	switch d {
	case FP16, FP32, FP64:
		return ClassFloat
	case Bool, Uint8, Uint16, Uint32, Uint64, Int8, Int16, Int32, Int64:
		return ClassInt
	case Bytes:
		return ClassBytes
	}
	return ClassInvalid
}

// Valid reports whether d is an OIP datatype.
func (d DataType) Valid() bool { return d.Class() != ClassInvalid }

// TensorMeta describes one input or output.
type TensorMeta struct {
	Name     string   `json:"name"`
	Datatype DataType `json:"datatype"`
	Shape    []int64  `json:"shape"`
}

// Metadata is a model's OIP metadata. Parameters carries extensions; the
// ONNX evaluator sets "classes" (a []string) for classifiers.
type Metadata struct {
	Name       string         `json:"name"`
	Versions   []string       `json:"versions,omitempty"`
	Platform   string         `json:"platform"`
	Inputs     []TensorMeta   `json:"inputs"`
	Outputs    []TensorMeta   `json:"outputs"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// Tensor is a named, typed, shaped array of values in row-major order.
// Exactly one of Float, Int and Bytes holds the values, chosen by
// Datatype.Class().
type Tensor struct {
	Name     string
	Datatype DataType
	Shape    []int64
	Float    []float64
	Int      []int64
	Bytes    [][]byte
}

// Len is the number of values the shape calls for (-1 when the shape is
// invalid or too large).
func (t *Tensor) Len() int { return shapeSize(t.Shape) }

// shapeSize multiplies dimensions, -1 on negative dimensions or overflow.
func shapeSize(shape []int64) int {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxElements/d) {
			return -1
		}
		n *= d
	}
	if n > maxElements {
		return -1
	}
	return int(n)
}

// maxElements bounds any one tensor (values, not bytes).
const maxElements = 1 << 28

// count is how many values the tensor actually holds.
func (t *Tensor) count() int {
	switch t.Datatype.Class() {
	case ClassFloat:
		return len(t.Float)
	case ClassInt:
		return len(t.Int)
	case ClassBytes:
		return len(t.Bytes)
	}
	return 0
}

// Check reports whether the tensor is well formed: a valid datatype, a
// valid shape and as many values as the shape calls for.
func (t *Tensor) Check() error {
	if !t.Datatype.Valid() {
		return fmt.Errorf("tensor %q: unknown datatype %q", t.Name, t.Datatype)
	}
	n := t.Len()
	if n < 0 {
		return fmt.Errorf("tensor %q: invalid shape %v", t.Name, t.Shape)
	}
	if c := t.count(); c != n {
		return fmt.Errorf("tensor %q: shape %v needs %d values, got %d", t.Name, t.Shape, n, c)
	}
	return nil
}

// Error is an error reported by a model or server: a rejected request, an
// unknown model, an evaluation failure. Status is the HTTP status when the
// model is remote (0 otherwise).
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("inference: %d: %s", e.Status, e.Message)
	}
	return "inference: " + e.Message
}

// Sentinel errors; test with errors.Is.
var (
	// ErrBadInput marks a request whose inputs do not match the model
	// (names, shapes, datatypes, values).
	ErrBadInput = errors.New("bad input")
	// ErrUnsupported marks a model that uses something this package cannot
	// evaluate (an operator, a datatype, an opset).
	ErrUnsupported = errors.New("unsupported")
	// ErrMalformed marks a model file that cannot be decoded.
	ErrMalformed = errors.New("malformed model")
	// ErrLimit marks a request or model beyond a configured bound.
	ErrLimit = errors.New("limit exceeded")
)
