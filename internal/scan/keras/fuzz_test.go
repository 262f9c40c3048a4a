package keras

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlsec/mlsec/internal/scan"
)

func FuzzKerasConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	s := NewConfigScanner()
	f.Fuzz(func(t *testing.T, b []byte) {
		fi := scan.FileInfo{Name: "config.json", Size: int64(len(b)), Head: b[:min(len(b), scan.HeadSize)], R: bytes.NewReader(b)}
		s.Match(fi)
		AnalyzeConfig(context.Background(), &scan.Input{FileInfo: fi}, b, "")
	})
}
