package inference

import (
	"context"
	"testing"
)

// benchRows repeats the fixture's rows up to n.
func benchRows(e expected, n int) [][]float64 {
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = e.Inputs[i%len(e.Inputs)]
	}
	return rows
}

func benchPredict(b *testing.B, name string, batch int) {
	m, e := loadFixture(b, name)
	in := []Tensor{floatRows("input", benchRows(e, batch))}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Predict(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkForest100 evaluates the 100-tree random forest (depth 5, 10
// features): go test -bench Forest -cpu 1 ./internal/inference
func BenchmarkForest100(b *testing.B) { benchPredict(b, "forest", 1000) }

// BenchmarkMLP3 evaluates the 3-layer MLP (8→16→16→3, Scaler, Softmax,
// ArgMax, Gather).
func BenchmarkMLP3(b *testing.B) { benchPredict(b, "mlp", 1000) }

// BenchmarkGradientBoosting evaluates the 40-tree gradient boosting model.
func BenchmarkGradientBoosting(b *testing.B) { benchPredict(b, "gboost", 1000) }

// BenchmarkClientLoopback measures the OIP client against the server on
// loopback, 64 rows per request to the forest model.
func BenchmarkClientLoopback(b *testing.B) {
	ts := newTestServer(b, "forest")
	_, e := loadFixture(b, "forest")
	c, err := Dial(ts.URL + "/v2/models/forest")
	if err != nil {
		b.Fatal(err)
	}
	const batch = 64
	in := []Tensor{floatRows("input", benchRows(e, batch))}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Predict(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}
