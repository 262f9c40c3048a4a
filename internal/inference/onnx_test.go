package inference

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type expected struct {
	Inputs [][]float64 `json:"inputs"`
	Labels []int64     `json:"labels"`
	Scores [][]float64 `json:"scores"`
}

func loadFixture(t testing.TB, name string) (*ONNXModel, expected) {
	t.Helper()
	m, err := LoadONNX(filepath.Join("testdata", name+".onnx"), ONNXOptions{})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", name+".expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	return m, e
}

func floatRows(name string, rows [][]float64) Tensor {
	t := Tensor{Name: name, Datatype: FP32, Shape: []int64{int64(len(rows)), int64(len(rows[0]))}}
	for _, r := range rows {
		t.Float = append(t.Float, r...)
	}
	return t
}

// TestFixturesMatchScikitLearn compares the evaluator with the outputs
// scikit-learn computed for the same rows (testdata/gen_fixtures.py).
func TestFixturesMatchScikitLearn(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"logreg", "mlp", "forest", "gboost", "gbregressor", "ridge"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, e := loadFixture(t, name)
			p, err := PredictRows(context.Background(), m, e.Inputs)
			if err != nil {
				t.Fatal(err)
			}
			if e.Labels != nil {
				if len(p.Labels) != len(e.Labels) {
					t.Fatalf("%d labels, want %d", len(p.Labels), len(e.Labels))
				}
				for i, l := range e.Labels {
					if p.Labels[i] != strconv.FormatInt(l, 10) {
						t.Errorf("row %d: label %s, scikit-learn %d", i, p.Labels[i], l)
					}
				}
			}
			if len(p.Scores) != len(e.Scores) {
				t.Fatalf("%d score rows, want %d", len(p.Scores), len(e.Scores))
			}
			tol := 1e-5
			for i := range e.Scores {
				if len(p.Scores[i]) != len(e.Scores[i]) {
					t.Fatalf("row %d: %d scores, want %d", i, len(p.Scores[i]), len(e.Scores[i]))
				}
				for j, want := range e.Scores[i] {
					got := p.Scores[i][j]
					// FP32 outputs: relative tolerance for large regression values.
					if d := math.Abs(got - want); d > tol*math.Max(1, math.Abs(want)) {
						t.Errorf("row %d score %d: %.8g, scikit-learn %.8g (diff %.2g)", i, j, got, want, d)
					}
				}
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	m, _ := loadFixture(t, "logreg")
	md, err := m.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "logreg" || md.Platform != "onnx" || len(md.Inputs) != 1 || len(md.Outputs) != 2 {
		t.Fatalf("metadata %+v", md)
	}
	if in := md.Inputs[0]; in.Name != "input" || in.Datatype != FP32 || len(in.Shape) != 2 || in.Shape[0] != -1 || in.Shape[1] != 6 {
		t.Errorf("input %+v", in)
	}
	if o := md.Outputs[0]; o.Name != "output_label" || o.Datatype != Int64 {
		t.Errorf("label output %+v", o)
	}
	if o := md.Outputs[1]; o.Name != "output_probability" || o.Datatype != FP32 || o.Shape[1] != 2 {
		t.Errorf("ZipMap output %+v", o)
	}
	if cl, _ := md.Parameters["classes"].([]string); len(cl) != 2 || cl[0] != "0" || cl[1] != "1" {
		t.Errorf("classes %v", md.Parameters["classes"])
	}
}

func TestPredictRejectsBadInputs(t *testing.T) {
	t.Parallel()
	m, e := loadFixture(t, "mlp")
	good := floatRows("input", e.Inputs[:2])
	ctx := context.Background()
	cases := []struct {
		name string
		in   []Tensor
		out  []string
		want error
	}{
		{"missing", nil, nil, ErrBadInput},
		{"wrong name", []Tensor{{Name: "x", Datatype: FP32, Shape: good.Shape, Float: good.Float}}, nil, ErrBadInput},
		{"wrong type", []Tensor{{Name: "input", Datatype: FP64, Shape: good.Shape, Float: good.Float}}, nil, ErrBadInput},
		{"wrong width", []Tensor{{Name: "input", Datatype: FP32, Shape: []int64{4, 4}, Float: good.Float}}, nil, ErrBadInput},
		{"wrong rank", []Tensor{{Name: "input", Datatype: FP32, Shape: []int64{16}, Float: good.Float}}, nil, ErrBadInput},
		{"short data", []Tensor{{Name: "input", Datatype: FP32, Shape: good.Shape, Float: good.Float[:3]}}, nil, ErrBadInput},
		{"duplicate", []Tensor{good, good}, nil, ErrBadInput},
		{"unknown output", []Tensor{good}, []string{"nope"}, ErrBadInput},
	}
	for _, c := range cases {
		if _, err := m.Predict(ctx, c.in, c.out...); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	out, err := m.Predict(ctx, []Tensor{good}, "output_label")
	if err != nil || len(out) != 1 || out[0].Name != "output_label" || len(out[0].Int) != 2 {
		t.Fatalf("selected output: %v %+v", err, out)
	}
}

// TestOperators checks the core operators the scikit-learn fixtures do not
// use against numpy (testdata/ops.onnx from gen_fixtures.py).
func TestOperators(t *testing.T) {
	t.Parallel()
	m, err := LoadONNX(filepath.Join("testdata", "ops.onnx"), ONNXOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "ops.expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Inputs  [][]float64 `json:"inputs"`
		Outputs map[string]struct {
			Shape []int64   `json:"shape"`
			Data  []float64 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	outs, err := m.Predict(context.Background(), []Tensor{floatRows("input", e.Inputs)})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(e.Outputs) {
		t.Fatalf("%d outputs, want %d", len(outs), len(e.Outputs))
	}
	for _, o := range outs {
		want, ok := e.Outputs[o.Name]
		if !ok {
			t.Errorf("unexpected output %q", o.Name)
			continue
		}
		if !slices.Equal(o.Shape, want.Shape) {
			t.Errorf("%s: shape %v, numpy %v", o.Name, o.Shape, want.Shape)
			continue
		}
		got := o.Float
		if o.Datatype == Int64 {
			got = make([]float64, len(o.Int))
			for k, v := range o.Int {
				got[k] = float64(v)
			}
		}
		for k, w := range want.Data {
			if d := math.Abs(got[k] - w); d > 1e-5*math.Max(1, math.Abs(w)) {
				t.Errorf("%s[%d]: %v, numpy %v", o.Name, k, got[k], w)
				break
			}
		}
	}
}

func TestHostileModels(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want error
		msg  string
	}{
		{"unsupported.onnx", ErrUnsupported, "Erf"},
		{"escape.onnx", nil, "inside the model's directory"},
		{"absolute.onnx", nil, "inside the model's directory"},
	}
	for _, c := range cases {
		_, err := LoadONNX(filepath.Join("testdata", c.file), ONNXOptions{})
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v mentioning %q", c.file, err, c.want, c.msg)
		}
	}
	// External data inside the directory is read.
	m, err := LoadONNX(filepath.Join("testdata", "extdata.onnx"), ONNXOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Predict(context.Background(), []Tensor{{Name: "input", Datatype: FP32, Shape: []int64{1, 2}, Float: []float64{10, 20}}})
	if err != nil || out[0].Float[0] != 11 || out[0].Float[1] != 22 {
		t.Fatalf("external data: %v %+v", err, out)
	}
	// In memory, external data is refused outright.
	data, _ := os.ReadFile(filepath.Join("testdata", "extdata.onnx"))
	if _, err := ParseONNX(data, ONNXOptions{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ParseONNX with external data: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("not a model"), {0x3a, 0x02, 0x0a}, {0x08, 0x80}} {
		if _, err := ParseONNX(bad, ONNXOptions{}); err == nil {
			t.Errorf("ParseONNX(%q): no error", bad)
		}
	}
}
