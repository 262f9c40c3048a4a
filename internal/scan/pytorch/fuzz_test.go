package pytorch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
)

// FuzzLegacy runs the legacy-format scanner (with the pickle engine) over
// arbitrary bytes that start like a legacy checkpoint.
func FuzzLegacy(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	e := engine()
	f.Fuzz(func(t *testing.T, data []byte) {
		e.ScanInput(context.Background(), "x.pt", bytes.NewReader(data), int64(len(data)), finding.Artifact{Path: "x.pt"})
		legacyMagicLen(data)
		walkStorages(context.Background(), bytes.NewReader(data), 0, int64(len(data)), []string{"a", "b", "c"}, nil)
	})
}

// FuzzTorchScriptReview checks the code review on arbitrary text.
func FuzzTorchScriptReview(f *testing.F) {
	f.Add([]byte("def f(x: int) -> int:\n  return os.system(\"x\")\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ReviewTorchScript(&scanInput, []Source{{Name: "code/x.py", Member: "code/x.py", Text: b}})
	})
}
