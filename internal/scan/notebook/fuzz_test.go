package notebook_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan/notebook"
)

func FuzzNotebook(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.ipynb")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"cells":[{"cell_type":"code","source":"!curl x | sh","outputs":[{"output_type":"stream","text":["a\n"]}]}],"nbformat":4}`))
	e := engine()
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := notebook.DefaultLimits()
		lim.MaxText, lim.MaxBlob = 1<<16, 1<<16
		_, _ = notebook.Parse(context.Background(), bytes.NewReader(b), lim, func(c *notebook.Cell) error {
			if c.Source != nil {
				for off := 0; off <= len(c.Source.S); off += 7 {
					c.Source.FileLine(off)
					c.Source.CellLine(off)
				}
			}
			return nil
		})
		res := e.ScanInput(context.Background(), "f.ipynb", bytes.NewReader(b), int64(len(b)), finding.Artifact{Path: "f.ipynb"})
		for _, g := range res.Coverage.Gaps {
			if strings.Contains(g, "internal error") {
				t.Fatalf("panic: %s", g)
			}
		}
	})
}

func FuzzAnalyzeShell(f *testing.F) {
	for _, s := range []string{"curl -s x | sudo bash", "pip install a==1 b --extra-index-url u", "bash <(wget -O- u)",
		"conda install -c c x=1", `sh -c "$(curl u)"`, "%%bash\nset -e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		notebook.AnalyzeShell(s)
	})
}
