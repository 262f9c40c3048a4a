package inference

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzONNX feeds arbitrary bytes to the ONNX decoder and compiler, and runs
// any model that compiles on a small input: errors are fine, panics (caught
// as "internal error") and hangs are not.
func FuzzONNX(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.onnx"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x3a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseONNX(data, ONNXOptions{MaxBatch: 16})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			return
		}
		md, _ := m.Metadata(context.Background())
		var inputs []Tensor
		for _, in := range md.Inputs {
			t := Tensor{Name: in.Name, Datatype: in.Datatype}
			n := 1
			for _, d := range in.Shape {
				if d < 0 || d > 8 {
					d = 2
				}
				t.Shape = append(t.Shape, d)
				n *= int(d)
			}
			if n > 1<<12 {
				return
			}
			for k := range n {
				switch in.Datatype.Class() {
				case ClassFloat:
					t.Float = append(t.Float, float64(k%7)-3.5)
				case ClassInt:
					t.Int = append(t.Int, int64(k%3))
				case ClassBytes:
					t.Bytes = append(t.Bytes, []byte("1"))
				}
			}
			inputs = append(inputs, t)
		}
		if _, err := m.Predict(context.Background(), inputs); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeTensor checks the OIP JSON tensor decoder on arbitrary data.
func FuzzDecodeTensor(f *testing.F) {
	f.Add(`{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}`)
	f.Add(`{"name":"x","shape":[3],"datatype":"BOOL","data":[true,false,true]}`)
	f.Add(`{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}`)
	f.Add(`{"name":"x","shape":[2],"datatype":"UINT8","data":[255,256]}`)
	f.Fuzz(func(t *testing.T, s string) {
		var w wireTensor
		if json.Unmarshal([]byte(s), &w) != nil {
			return
		}
		tn, err := decodeTensor(&w)
		if err != nil {
			return
		}
		if err := tn.Check(); err != nil {
			t.Fatalf("decoded tensor fails Check: %v", err)
		}
		if _, err := encodeTensor(&tn); err != nil && tn.Datatype.Class() != ClassFloat {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
