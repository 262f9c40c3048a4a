package pickle

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil && len(b) <= 4<<10 && filepath.Ext(p) != ".json" && filepath.Ext(p) != ".py" {
			f.Add(b)
		}
	}
	f.Add([]byte("cos\nsystem\n(S'true'\ntR."))
	f.Add([]byte("\x80\x04\x8e\xff\xff\xff\xff\x00\x00\x00\x00ab"))
}

var fuzzLimits = Limits{MaxOps: 100_000, MaxKeep: 1 << 16, MaxStack: 10_000, MaxMemo: 10_000, MaxPickles: 64, MaxNesting: 3}

// FuzzAnalyze runs the symbolic machine, detection and the inspector over
// arbitrary bytes: no panic, no hang, and a stream that is not a clean
// sequence of pickles must never be called complete without a STOP.
func FuzzAnalyze(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := context.Background()
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("slow input: %v for %d bytes", d, len(b))
			}
		}()
		a, err := AnalyzeBytes(ctx, b, Options{Limits: fuzzLimits})
		if err != nil {
			t.Fatalf("error on in-memory input: %v", err)
		}
		if a.Complete() {
			for _, p := range a.Pickles {
				if !p.Complete {
					t.Fatalf("incomplete pickle at %d but analysis complete", p.Offset)
				}
			}
			if len(a.Pickles) == 0 {
				t.Fatal("complete analysis without a pickle")
			}
		}
		_ = a.Findings(fakeArtifact, "m", 0)
		_ = LooksLikePickle(b[:min(len(b), 8192)], int64(len(b)))
		if err := Inspect(ctx, bytes.NewReader(b), io.Discard, InspectOptions{Options: Options{Limits: fuzzLimits}}); err != nil {
			t.Fatalf("inspect: %v", err)
		}
	})
}

// FuzzDisassemble decodes opcodes alone (no machine) until an error.
func FuzzDisassemble(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := fuzzLimits.withDefaults()
		d := newDecoder(bytes.NewReader(b), &lim)
		last := int64(-1)
		for i := 0; i < 100_000; i++ {
			op, err := d.next()
			if err != nil {
				return
			}
			if op.Offset <= last || d.off > int64(len(b)) {
				t.Fatalf("offsets went wrong: op at %d after %d, decoder at %d of %d", op.Offset, last, d.off, len(b))
			}
			last = op.Offset
			_ = FormatArg(op)
		}
	})
}
