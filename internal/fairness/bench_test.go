package fairness

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/mlsec/mlsec/internal/tabular"
)

// benchRows is the file size for the benchmarks: 1M rows by default,
// MLSEC_BENCH_ROWS=10000000 for the 10-million-row figures.
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("MLSEC_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

type benchRow struct {
	Sex   string  `parquet:"sex,dict"`
	Race  string  `parquet:"race,dict"`
	Age   string  `parquet:"age_band,dict"`
	Label int64   `parquet:"label"`
	Pred  int64   `parquet:"prediction"`
	Score float64 `parquet:"score"`
}

func benchFiles(b *testing.B, n int) (csvPath, pqPath string) {
	b.Helper()
	dir := b.TempDir()
	csvPath, pqPath = filepath.Join(dir, "preds.csv"), filepath.Join(dir, "preds.parquet")
	cf, _ := os.Create(csvPath)
	w := bufio.NewWriterSize(cf, 1<<20)
	pf, _ := os.Create(pqPath)
	pw := parquet.NewGenericWriter[benchRow](pf)
	fmt.Fprintln(w, "id,sex,race,age_band,income,label,prediction,score")
	batch := make([]benchRow, 0, 8192)
	for start := 0; start < n; start += 50_000 {
		for i, r := range generate(min(50_000, n-start), uint64(start)) {
			fmt.Fprintf(w, "%d,%s,%s,%s,%d,%d,%d,%g\n", start+i, r.sex, r.race, r.age, 30000+i%50000, r.y, r.p, r.score)
			batch = append(batch, benchRow{r.sex, r.race, r.age, int64(r.y), int64(r.p), r.score})
			if len(batch) == cap(batch) {
				pw.Write(batch)
				batch = batch[:0]
			}
		}
	}
	pw.Write(batch)
	pw.Close()
	pf.Close()
	w.Flush()
	cf.Close()
	return csvPath, pqPath
}

func BenchmarkAnalyze(b *testing.B) {
	n := benchRows()
	csvPath, pqPath := benchFiles(b, n)
	for _, tc := range []struct {
		name, path string
		score      bool
	}{
		{"csv", csvPath, false}, {"csv+score", csvPath, true}, {"parquet", pqPath, false}, {"parquet+score", pqPath, true},
	} {
		b.Run(fmt.Sprintf("%s/rows=%d", tc.name, n), func(b *testing.B) {
			st, _ := os.Stat(tc.path)
			b.SetBytes(st.Size())
			cfg := Config{Label: "label", Pred: "prediction", Sensitive: []string{"sex", "race", "age_band"}, Intersectional: true, Bootstrap: 200}
			if tc.score {
				cfg.Score = "score"
			}
			for b.Loop() {
				src, err := tabular.Open(tc.path, tabular.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				res, err := Analyze(context.Background(), src, cfg)
				src.Close()
				if err != nil || res.Input.Rows != int64(n) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
