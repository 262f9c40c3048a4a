package weights

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

var seeds = []string{
	"../testdata/hf-textclf/model.safetensors", "../testdata/hf-textclf/pytorch_model.bin",
	"../testdata/gguf-chat/tiny-chat-Q8_0.gguf", "../testdata/onnx-mlp/model.onnx",
	"../testdata/project/models/classifier.pkl",
}

func TestDetectAndRead(t *testing.T) {
	want := []struct {
		format  string
		tensors int
		params  int64
	}{{Safetensors, 40, 6194}, {PyTorchZip, 40, 6194}, {GGUF, 12, 12384}, {ONNX, 4, 67}, {Pickle, 0, 0}}
	for i, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r := bytes.NewReader(data)
		head := data[:min(len(data), 4096)]
		format := Detect(filepath.Base(p), head, int64(len(data)), r)
		if format != want[i].format {
			t.Fatalf("%s: detected %q, want %q", p, format, want[i].format)
		}
		in, err := Read(context.Background(), format, r, int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if in.Tensors != want[i].tensors || in.Parameters != want[i].params {
			t.Errorf("%s: %d tensors %d parameters, want %d %d", p, in.Tensors, in.Parameters, want[i].tensors, want[i].params)
		}
		if in.Summary() == "" {
			t.Error("empty summary")
		}
	}
}

func TestTruncated(t *testing.T) {
	for _, p := range seeds[:4] {
		data, _ := os.ReadFile(p)
		for _, n := range []int{9, len(data) / 3, len(data) - 1} {
			cut := data[:n]
			format := Detect(filepath.Base(p), cut[:min(len(cut), 4096)], int64(n), bytes.NewReader(cut))
			if format == "" {
				continue
			}
			if _, err := Read(context.Background(), format, bytes.NewReader(cut), int64(n)); err == nil && format != PyTorchZip {
				t.Errorf("%s cut to %d bytes: no error", p, n)
			}
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		head := data[:min(len(data), 4096)]
		for _, format := range []string{Safetensors, GGUF, PyTorchZip, ONNX} {
			_, _ = Read(context.Background(), format, r, int64(len(data)))
		}
		_ = Detect("model.bin", head, int64(len(data)), r)
	})
}
