package ledger_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

// go test -run=^$ -bench=. -benchtime=2000x ./internal/ledger
func BenchmarkAppend(b *testing.B) {
	for _, be := range []store.Backend{store.SQLite, store.Postgres} {
		b.Run(string(be), func(b *testing.B) {
			f := newLedger(b, be)
			ctx := context.Background()
			ev := event(1)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.l.Append(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// Concurrent appenders share transactions and checkpoints (group commit).
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, be := range []store.Backend{store.SQLite, store.Postgres} {
		b.Run(string(be), func(b *testing.B) {
			f := newLedger(b, be)
			ctx := context.Background()
			ev := event(1)
			b.ResetTimer()
			var wg sync.WaitGroup
			const workers = 64
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < b.N; i += workers {
						if _, err := f.l.Append(ctx, ev); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

func BenchmarkAppendBatch100(b *testing.B) {
	for _, be := range []store.Backend{store.SQLite, store.Postgres} {
		b.Run(string(be), func(b *testing.B) {
			f := newLedger(b, be)
			ctx := context.Background()
			batch := make([]ledger.Event, 100)
			for i := range batch {
				batch[i] = event(i)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.l.AppendBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// benchSize is the ledger size for the verify and proof benchmarks
// (MLSEC_BENCH_ENTRIES, default 1,000,000).
func benchSize() int64 {
	if n, err := strconv.ParseInt(os.Getenv("MLSEC_BENCH_ENTRIES"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchmarkLedger1M builds a large SQLite ledger through the bulk path
// (AppendBatch in batches of 5,000: one transaction and checkpoint each),
// then measures a full verify and proof generation + checking.
func BenchmarkLedger1M(b *testing.B) {
	f := newLedger(b, store.SQLite)
	ctx := context.Background()
	n := benchSize()
	batch := make([]ledger.Event, 5000)
	for i := range batch {
		batch[i] = event(i)
	}
	for done := int64(0); done < n; {
		k := min(int64(len(batch)), n-done)
		if _, err := f.l.AppendBatch(ctx, batch[:k]); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	b.Run("verify", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := f.l.Verify(ctx, f.vkey)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.Size), "entries")
		}
	})
	b.Run("inclusion", func(b *testing.B) {
		var size int
		for i := 0; i < b.N; i++ {
			p, err := f.l.ProveInclusion(ctx, int64(i*7919)%n, 0)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ledger.VerifyProof(p, f.vkey); err != nil {
				b.Fatal(err)
			}
			raw, _ := json.Marshal(p)
			size = len(raw)
			b.ReportMetric(float64(len(p.Hashes)), "hashes")
		}
		b.ReportMetric(float64(size), "proof-bytes")
	})
	b.Run("consistency", func(b *testing.B) {
		var size int
		for i := 0; i < b.N; i++ {
			p, err := f.l.ProveConsistency(ctx, 5000*(1+int64(i)%max(n/5000-1, 1)), 0)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ledger.VerifyProof(p, f.vkey); err != nil {
				b.Fatal(err)
			}
			raw, _ := json.Marshal(p)
			size = len(raw)
			b.ReportMetric(float64(len(p.Hashes)), "hashes")
		}
		b.ReportMetric(float64(size), "proof-bytes")
	})
}
