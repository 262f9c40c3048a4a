package numpy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/pickle"
)

// FuzzNpy checks the header parser and the scanner on arbitrary bytes.
func FuzzNpy(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.npy")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(npy("{'descr': [('a', '<f4', (2,)), ('b', '|O')], 'fortran_order': False, 'shape': (1,), }", 2, []byte("\x80\x02N.")))
	e := scan.New([]scan.Scanner{New(pickle.Options{}), pickle.New(pickle.Options{})}, scan.Options{Workers: 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
		if err == nil && (h.DataOffset > int64(len(data)) || h.ItemSize < 0) {
			t.Fatalf("bad header %+v for %d bytes", h, len(data))
		}
		e.ScanInput(context.Background(), "x.npy", bytes.NewReader(data), int64(len(data)), finding.Artifact{Path: "x.npy"})
	})
}

// FuzzLiteral checks the Python literal parser.
func FuzzLiteral(f *testing.F) {
	for _, s := range []string{"{'a': (1, 2), 'b': [True, None, 'x\\'y']}", "((((", "{'descr': '<f4', }", "-12L"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseLiteral(s) //nolint:errcheck // must only not panic
	})
}
