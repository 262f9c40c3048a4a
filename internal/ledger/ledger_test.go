package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
	"github.com/mlsec/mlsec/internal/store/storetest"
)

const testDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

// forEachBackend runs the same subtest against SQLite and PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, b store.Backend)) {
	for _, b := range storetest.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

type fixture struct {
	dsn        string
	st         *store.Store
	l          *ledger.Ledger
	skey, vkey string
}

func newLedger(t testing.TB, b store.Backend) *fixture {
	t.Helper()
	ctx := context.Background()
	dsn := storetest.DSN(t, b)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	skey, vkey, err := ledger.GenerateKey("test.example/ledger")
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.Init(ctx, st, vkey); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, st, ledger.WithSignerKey(skey))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dsn: dsn, st: st, l: l, skey: skey, vkey: vkey}
}

func event(i int) ledger.Event {
	return ledger.Event{
		Actor:   "alice@example.com",
		Action:  ledger.ActionScan,
		Subject: ledger.Subject{Name: "resnet", Version: fmt.Sprint(i), Digest: testDigest},
		Reason:  fmt.Sprintf("event %d", i),
	}
}

func fill(t testing.TB, f *fixture, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		idx, err := f.l.Append(context.Background(), event(i))
		if err != nil {
			t.Fatal(err)
		}
		if idx < 0 {
			t.Fatalf("bad index %d", idx)
		}
	}
}

func TestAppendConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		f := newLedger(t, b)
		ctx := context.Background()
		const workers, per = 8, 25
		var wg sync.WaitGroup
		seen := make(chan int64, workers*per)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					idx, err := f.l.Append(ctx, event(i))
					if err != nil {
						t.Error(err)
						return
					}
					seen <- idx
				}
			}()
		}
		wg.Wait()
		close(seen)
		got := map[int64]bool{}
		for idx := range seen {
			if got[idx] {
				t.Fatalf("index %d handed out twice", idx)
			}
			got[idx] = true
		}
		if n, _ := f.l.Size(ctx); n != workers*per || len(got) != workers*per {
			t.Fatalf("size %d, %d distinct indexes, want %d", n, len(got), workers*per)
		}
	})
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// The struct field order must give sorted keys: compare with a generic
// sorted-key re-encoding.
func TestCanonicalKeyOrder(t *testing.T) {
	ev := event(3)
	ev.Inputs = []ledger.Input{{Kind: "model", Ref: "base@1", Digest: testDigest}}
	ev.Attachments = []ledger.Attachment{{Name: "a<b>.json", MediaType: "application/json", Digest: testDigest, Size: 3}}
	c, err := ev.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	var m any
	if err := json.Unmarshal(c, &m); err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m)
	if got := strings.TrimSuffix(buf.String(), "\n"); got != string(c) {
		t.Fatalf("not canonical:\n%s\n%s", c, got)
	}
	if _, err := ledger.ParseRecord(c); err != nil {
		t.Fatal(err)
	}
}

// Two ledgers on one store (as two processes would be) take turns: each
// append after the other's finds its remembered head stale, writes
// nothing on the fast path and appends under the lock instead.
func TestAppendInterleavedLedgers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newLedger(t, b)
		l2, err := ledger.Open(ctx, f.st, ledger.WithSignerKey(f.skey))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			l := f.l
			if i%3 == 1 {
				l = l2
			}
			batch := []ledger.Event{event(i)}
			if i%5 == 0 {
				batch = append(batch, event(i), event(i))
			}
			if _, err := l.AppendBatch(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		res, err := f.l.Verify(ctx, f.vkey)
		if err != nil {
			t.Fatal(err)
		}
		if res.Size != 42 || res.Checkpoints != 30 {
			t.Fatalf("size %d, checkpoints %d", res.Size, res.Checkpoints)
		}
	})
}
