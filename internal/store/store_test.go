package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mlsec/mlsec/internal/store"
	"github.com/mlsec/mlsec/internal/store/storetest"
)

func TestStore(t *testing.T) {
	for _, b := range storetest.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := storetest.DSN(t, b)
			s, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Backend() != b {
				t.Fatalf("backend %s", s.Backend())
			}
			ms, _ := store.Migrations(b)
			if v, err := s.SchemaVersion(ctx); err != nil || v != len(ms) {
				t.Fatalf("schema version %d, %v", v, err)
			}
			// Reopening applies nothing and keeps data.
			if _, err := s.Head(ctx); !errors.Is(err, store.ErrNotInitialized) {
				t.Fatalf("head before init: %v", err)
			}
			if err := s.InitLog(ctx, "o", "k"); err != nil {
				t.Fatal(err)
			}
			if err := s.InitLog(ctx, "o", "k"); !errors.Is(err, store.ErrAlreadyInitialized) {
				t.Fatalf("second init: %v", err)
			}
			s2, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if h, err := s2.Head(ctx); err != nil || h.Origin != "o" || h.Size != 0 {
				t.Fatalf("head %+v %v", h, err)
			}
			// Appends are all-or-nothing.
			boom := errors.New("boom")
			err = s.UpdateLog(ctx, func(ctx context.Context, tx store.LogTx) error {
				if err := tx.Append(ctx, store.LogAppend{Records: [][]byte{[]byte("a")}, Hashes: [][32]byte{{1}}, Checkpoint: []byte("c")}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if h, _ := s.Head(ctx); h.Size != 0 {
				t.Fatalf("rolled-back append moved head to %d", h.Size)
			}
			if _, err := s.Record(ctx, 0); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("rolled-back record: %v", err)
			}
			err = s.UpdateLog(ctx, func(ctx context.Context, tx store.LogTx) error {
				return tx.Append(ctx, store.LogAppend{Records: [][]byte{[]byte("a"), []byte("b")}, Hashes: [][32]byte{{1}, {2}, {3}}, Checkpoint: []byte("c")})
			})
			if err != nil {
				t.Fatal(err)
			}
			hs, err := s.ReadHashes(ctx, []int64{2, 0, 2})
			if err != nil || hs[0][0] != 3 || hs[1][0] != 1 || hs[2][0] != 3 {
				t.Fatalf("hashes %v %v", hs, err)
			}
			if _, err := s.ReadHashes(ctx, []int64{9}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("missing hash: %v", err)
			}
			var got []string
			if err := s.ScanRecords(ctx, 0, -1, func(_ int64, d []byte) error { got = append(got, string(d)); return nil }); err != nil || len(got) != 2 || got[1] != "b" {
				t.Fatalf("scan %v %v", got, err)
			}
			if n, cp, err := s.LatestCheckpoint(ctx); err != nil || n != 2 || string(cp) != "c" {
				t.Fatalf("checkpoint %d %q %v", n, cp, err)
			}
			// Blobs.
			if err := s.PutBlob(ctx, "sha256:ab", "application/json", []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if err := s.PutBlob(ctx, "sha256:ab", "application/json", []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if mt, d, err := s.Blob(ctx, "sha256:ab"); err != nil || mt != "application/json" || string(d) != "{}" {
				t.Fatalf("blob %q %q %v", mt, d, err)
			}
			if _, _, err := s.Blob(ctx, "sha256:cd"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("missing blob: %v", err)
			}
		})
	}
}

func TestAppendIfHead(t *testing.T) {
	for _, b := range storetest.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := store.Open(ctx, storetest.DSN(t, b))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.InitLog(ctx, "o", "k"); err != nil {
				t.Fatal(err)
			}
			head := store.LogHead{Size: 0, Origin: "o", VKey: "k"}
			one := func(rec string, firstHash int64, nh int) store.LogAppend {
				a := store.LogAppend{Records: [][]byte{[]byte(rec)}, FirstHash: firstHash, Checkpoint: []byte("cp " + rec)}
				for i := 0; i < nh; i++ {
					a.Hashes = append(a.Hashes, [32]byte{byte(firstHash) + byte(i)})
				}
				return a
			}
			if ok, err := s.AppendIfHead(ctx, head, one("a", 0, 1)); !ok || err != nil {
				t.Fatalf("first append: %v %v", ok, err)
			}
			// A stale head, or another key, writes nothing.
			for _, h := range []store.LogHead{head, {Size: 1, Origin: "o", VKey: "other"}, {Size: 1, Origin: "p", VKey: "k"}} {
				if ok, err := s.AppendIfHead(ctx, h, one("b", 1, 2)); ok || err != nil {
					t.Fatalf("append at %+v: %v %v", h, ok, err)
				}
			}
			if h, _ := s.Head(ctx); h.Size != 1 {
				t.Fatalf("head %d", h.Size)
			}
			if _, err := s.Record(ctx, 1); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("record written by a refused append: %v", err)
			}
			if _, err := s.Checkpoint(ctx, 2); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("checkpoint written by a refused append: %v", err)
			}
			// Concurrent appenders at the same head: exactly one wins.
			const racers = 8
			wins := make(chan bool, racers)
			for i := 0; i < racers; i++ {
				go func() {
					ok, err := s.AppendIfHead(ctx, store.LogHead{Size: 1, Origin: "o", VKey: "k"}, one("b", 1, 2))
					if err != nil {
						t.Error(err)
					}
					wins <- ok
				}()
			}
			n := 0
			for i := 0; i < racers; i++ {
				if <-wins {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d concurrent appends at one head succeeded", n)
			}
			// A large append (multi-row inserts).
			big := store.LogAppend{FirstHash: 3, Checkpoint: []byte("cp big")}
			for i := 0; i < 40; i++ {
				big.Records = append(big.Records, []byte{byte(i)})
				big.Hashes = append(big.Hashes, [32]byte{byte(i)}, [32]byte{byte(i)})
			}
			if ok, err := s.AppendIfHead(ctx, store.LogHead{Size: 2, Origin: "o", VKey: "k"}, big); !ok || err != nil {
				t.Fatalf("big append: %v %v", ok, err)
			}
			hs, err := s.ReadHashes(ctx, []int64{0, 1, 2, 3, 82})
			if err != nil || hs[1][0] != 1 || hs[2][0] != 2 || hs[4][0] != 39 {
				t.Fatalf("hashes %v %v", hs, err)
			}
			var got []string
			if err := s.ScanRecords(ctx, 0, -1, func(_ int64, d []byte) error { got = append(got, string(d)); return nil }); err != nil || len(got) != 42 || got[1] != "b" {
				t.Fatalf("records %q %v", got, err)
			}
			if n, cp, err := s.LatestCheckpoint(ctx); err != nil || n != 42 || string(cp) != "cp big" {
				t.Fatalf("checkpoint %d %q %v", n, cp, err)
			}
		})
	}
}
