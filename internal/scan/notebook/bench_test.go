package notebook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var benchCells = 500

// BenchmarkLargeNotebook scans a 500-cell notebook (about 42 MB) with
// printed data frames, logs and 64 KiB PNG plots.
func BenchmarkLargeNotebook(b *testing.B) {
	png := make([]byte, 64<<10)
	copy(png, "\x89PNG\r\n\x1a\n")
	img := base64.StdEncoding.EncodeToString(png)
	var cells []map[string]any
	for i := 0; i < benchCells; i++ {
		src := []string{"import numpy as np\n", fmt.Sprintf("x%d = np.random.rand(100, 4)\n", i), "df.describe()\n"}
		var lines []string
		for j := 0; j < 200; j++ {
			lines = append(lines, fmt.Sprintf("%5d  %.6f  %.6f  %.6f  row-%d  ok\n", j, float64(j)/7, float64(i)/3, float64(i*j)/11, j))
		}
		outs := []map[string]any{
			{"output_type": "stream", "name": "stdout", "text": lines},
			{"output_type": "display_data", "metadata": map[string]any{},
				"data": map[string]any{"image/png": img, "text/plain": []string{"<Figure size 640x480 with 1 Axes>"}}},
		}
		cells = append(cells, map[string]any{"cell_type": "code", "execution_count": i, "metadata": map[string]any{},
			"source": src, "outputs": outs})
	}
	nb := map[string]any{"cells": cells, "metadata": map[string]any{}, "nbformat": 4, "nbformat_minor": 5}
	raw, err := json.MarshalIndent(nb, "", " ")
	if err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(b.TempDir(), "large.ipynb")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	e := engine()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for b.Loop() {
		ar := e.ScanFile(context.Background(), p)
		if ar.Status != "complete" || len(ar.Findings) != 0 {
			b.Fatalf("status %s gaps %v findings %d", ar.Status, strings.Join(ar.Gaps, ";"), len(ar.Findings))
		}
	}
}
