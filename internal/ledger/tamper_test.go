package ledger_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
	"github.com/mlsec/mlsec/internal/store/storetest"
)

func sqlExec(t *testing.T, db *sql.DB, dsn, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(storetest.Rebind(dsn, q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func rawRecord(t *testing.T, db *sql.DB, dsn string, idx int64) []byte {
	t.Helper()
	var data []byte
	if err := db.QueryRow(storetest.Rebind(dsn, `SELECT data FROM ledger_records WHERE idx = $1`), idx).Scan(&data); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestVerifyTamper(t *testing.T) {
	const n = 20
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB, f *fixture)
		first  int64
		kind   string
	}{
		{"clean", func(*testing.T, *sql.DB, *fixture) {}, -1, ""},
		{"edit field", func(t *testing.T, db *sql.DB, f *fixture) {
			d := bytes.Replace(rawRecord(t, db, f.dsn, 7), []byte("event 7"), []byte("event X"), 1)
			sqlExec(t, db, f.dsn, `UPDATE ledger_records SET data = $1 WHERE idx = 7`, d)
		}, 7, ledger.ProblemLeafHash},
		{"edit field and rewrite stored hashes", func(t *testing.T, db *sql.DB, f *fixture) {
			d := bytes.Replace(rawRecord(t, db, f.dsn, 7), []byte("alice"), []byte("mallory"), 1)
			sqlExec(t, db, f.dsn, `UPDATE ledger_records SET data = $1 WHERE idx = 7`, d)
			// Recompute every stored hash from the edited records, as an
			// attacker without the signing key would.
			var hashes []tlog.Hash
			r := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
				out := make([]tlog.Hash, len(ix))
				for i, x := range ix {
					out[i] = hashes[x]
				}
				return out, nil
			})
			for i := int64(0); i < n; i++ {
				hs, err := tlog.StoredHashes(i, rawRecord(t, db, f.dsn, i), r)
				if err != nil {
					t.Fatal(err)
				}
				hashes = append(hashes, hs...)
			}
			for i, h := range hashes {
				sqlExec(t, db, f.dsn, `UPDATE ledger_hashes SET hash = $1 WHERE idx = $2`, h[:], int64(i))
			}
		}, 7, ledger.ProblemCheckpoint},
		{"delete row", func(t *testing.T, db *sql.DB, f *fixture) {
			sqlExec(t, db, f.dsn, `DELETE FROM ledger_records WHERE idx = 7`)
		}, 7, ledger.ProblemMissing},
		{"swap rows", func(t *testing.T, db *sql.DB, f *fixture) {
			a, b := rawRecord(t, db, f.dsn, 5), rawRecord(t, db, f.dsn, 9)
			sqlExec(t, db, f.dsn, `UPDATE ledger_records SET data = $1 WHERE idx = 5`, b)
			sqlExec(t, db, f.dsn, `UPDATE ledger_records SET data = $1 WHERE idx = 9`, a)
		}, 5, ledger.ProblemSequence},
		{"insert row", func(t *testing.T, db *sql.DB, f *fixture) {
			sqlExec(t, db, f.dsn, `INSERT INTO ledger_records (idx, data) VALUES (20, $1)`, rawRecord(t, db, f.dsn, 3))
		}, 20, ledger.ProblemExtra},
		{"forged checkpoint", func(t *testing.T, db *sql.DB, f *fixture) {
			var note []byte
			if err := db.QueryRow(storetest.Rebind(f.dsn, `SELECT note FROM ledger_checkpoints WHERE size = 12`)).Scan(&note); err != nil {
				t.Fatal(err)
			}
			note = bytes.Replace(note, []byte("\n12\n"), []byte("\n13\n"), 1)
			sqlExec(t, db, f.dsn, `UPDATE ledger_checkpoints SET note = $1 WHERE size = 12`, note)
		}, 11, ledger.ProblemSignature},
		{"unsigned tail", func(t *testing.T, db *sql.DB, f *fixture) {
			sqlExec(t, db, f.dsn, `DELETE FROM ledger_checkpoints WHERE size >= 18`)
		}, 17, ledger.ProblemUnsigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, func(t *testing.T, b store.Backend) {
				ctx := context.Background()
				f := newLedger(t, b)
				fill(t, f, n)
				db := storetest.RawDB(t, f.dsn)
				tc.tamper(t, db, f)
				res, err := f.l.Verify(ctx, f.vkey)
				if tc.first < 0 {
					if err != nil {
						t.Fatalf("clean ledger: %v", err)
					}
					if res.Size != n || res.Checkpoints != n || !res.KeyTrusted {
						t.Fatalf("result %+v", res)
					}
					return
				}
				var ve *ledger.VerifyError
				if !errors.As(err, &ve) {
					t.Fatalf("want VerifyError, got %v", err)
				}
				want := tc.first
				p := res.Problems[0]
				if p.Index != want || p.Kind != tc.kind {
					t.Fatalf("first problem %v, want index %d kind %s (all: %v)", p, want, tc.kind, res.Problems)
				}
			})
		})
	}
}

func TestVerifyUntrustedKey(t *testing.T) {
	f := newLedger(t, store.SQLite)
	fill(t, f, 3)
	_, other, _ := ledger.GenerateKey("test.example/ledger")
	_, err := f.l.Verify(context.Background(), other)
	if err == nil {
		t.Fatal("verify with another key succeeded")
	}
}

func TestProofs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newLedger(t, b)
		fill(t, f, 37)
		for _, idx := range []int64{0, 1, 7, 16, 36} {
			p, err := f.l.ProveInclusion(ctx, idx, 0)
			if err != nil {
				t.Fatal(err)
			}
			p2 := roundTrip(t, p)
			res, err := ledger.VerifyProof(p2, f.vkey)
			if err != nil {
				t.Fatalf("inclusion %d: %v", idx, err)
			}
			if res.Event.Seq != idx || res.Checkpoint.Size != 37 {
				t.Fatalf("inclusion %d: %+v", idx, res)
			}
			// Inclusion in an older checkpoint too.
			if _, err := ledger.VerifyProof(must(t)(f.l.ProveInclusion(ctx, idx, idx+1)), f.vkey); err != nil {
				t.Fatalf("inclusion %d in %d: %v", idx, idx+1, err)
			}
		}
		for _, old := range []int64{1, 5, 16, 36, 37} {
			p, err := f.l.ProveConsistency(ctx, old, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ledger.VerifyProof(roundTrip(t, p), f.vkey); err != nil {
				t.Fatalf("consistency %d→37: %v", old, err)
			}
		}
		// Wrong key.
		_, other, _ := ledger.GenerateKey("test.example/ledger")
		if _, err := ledger.VerifyProof(must(t)(f.l.ProveInclusion(ctx, 3, 0)), other); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("proof verified with another key: %v", err)
		}
		// A proof whose record was edited fails.
		p := must(t)(f.l.ProveInclusion(ctx, 9, 0))
		p.Record = strings.Replace(p.Record, "event 9", "event 8", 1)
		if _, err := ledger.VerifyProof(p, f.vkey); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("edited proof: %v", err)
		}
		// After tampering with the database, fresh proofs fail too.
		db := storetest.RawDB(t, f.dsn)
		d := bytes.Replace(rawRecord(t, db, f.dsn, 9), []byte("event 9"), []byte("event 8"), 1)
		sqlExec(t, db, f.dsn, `UPDATE ledger_records SET data = $1 WHERE idx = 9`, d)
		if _, err := ledger.VerifyProof(must(t)(f.l.ProveInclusion(ctx, 9, 0)), f.vkey); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("proof of tampered record: %v", err)
		}
		sqlExec(t, db, f.dsn, `UPDATE ledger_hashes SET hash = $1 WHERE idx = $2`, make([]byte, 32), tlog.StoredHashIndex(2, 5))
		if _, err := ledger.VerifyProof(must(t)(f.l.ProveConsistency(ctx, 20, 0)), f.vkey); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("consistency proof over tampered hashes: %v", err)
		}
	})
}

func must(t *testing.T) func(*ledger.Proof, error) *ledger.Proof {
	return func(p *ledger.Proof, err error) *ledger.Proof {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func roundTrip(t *testing.T, p *ledger.Proof) *ledger.Proof {
	t.Helper()
	var buf bytes.Buffer
	if err := jsonEncode(&buf, p); err != nil {
		t.Fatal(err)
	}
	q, err := ledger.ParseProof(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestExportImportVerify(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newLedger(t, b)
		fill(t, f, 25)
		var buf bytes.Buffer
		if err := f.l.Export(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		n := 0
		res, err := ledger.ImportVerify(ctx, bytes.NewReader(buf.Bytes()), f.vkey, func(int64, []byte) error { n++; return nil })
		if err != nil || res.Size != 25 || n != 25 {
			t.Fatalf("import-verify: %v %+v %d", err, res, n)
		}
		bad := bytes.Replace(buf.Bytes(), []byte(`event 11`), []byte(`event 12`), 1)
		res, err = ledger.ImportVerify(ctx, bytes.NewReader(bad), f.vkey, nil)
		var ve *ledger.VerifyError
		if !errors.As(err, &ve) || res.Problems[0].Index != 11 {
			t.Fatalf("tampered export: %v", err)
		}
	})
}

// A ledger spanning several verify pages reports the first bad index in
// index order, whatever the order the workers finish pages in. (A
// checkpoint mismatch is reported at the start of the range it signs, so
// edits here sit at batch boundaries or leave the records unchanged.)
func TestVerifyTamperManyPages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 3,000-record ledger")
	}
	const n = 3000
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB, f *fixture)
		first  int64
		kind   string
	}{
		{"clean", func(*testing.T, *sql.DB, *fixture) {}, -1, ""},
		{"edit two pages apart", func(t *testing.T, db *sql.DB, f *fixture) {
			for _, i := range []int64{2900, 1500} {
				d := bytes.Replace(rawRecord(t, db, f.dsn, i), []byte("alice"), []byte("mallo"), 1)
				sqlExec(t, db, f.dsn, `UPDATE ledger_records SET data = $1 WHERE idx = $2`, d, i)
			}
		}, 1500, ledger.ProblemLeafHash},
		{"not canonical", func(t *testing.T, db *sql.DB, f *fixture) {
			d := bytes.Replace(rawRecord(t, db, f.dsn, 2000), []byte(`"actor"`), []byte(`"actor" `), 1)
			sqlExec(t, db, f.dsn, `UPDATE ledger_records SET data = $1 WHERE idx = 2000`, d)
		}, 2000, ledger.ProblemRecord},
		{"delete stored hash", func(t *testing.T, db *sql.DB, f *fixture) {
			sqlExec(t, db, f.dsn, `DELETE FROM ledger_hashes WHERE idx = $1`, tlog.StoredHashIndex(0, 1800))
		}, 1800, ledger.ProblemStoredHash},
		{"edit stored interior hash", func(t *testing.T, db *sql.DB, f *fixture) {
			sqlExec(t, db, f.dsn, `UPDATE ledger_hashes SET hash = $1 WHERE idx = $2`, make([]byte, 32), tlog.StoredHashIndex(3, 200))
		}, 200*8 + 7, ledger.ProblemStoredHash},
		{"delete rows", func(t *testing.T, db *sql.DB, f *fixture) {
			sqlExec(t, db, f.dsn, `DELETE FROM ledger_records WHERE idx >= 1000 AND idx < 1100`)
		}, 1000, ledger.ProblemMissing},
		{"delete last row", func(t *testing.T, db *sql.DB, f *fixture) {
			// Record 2999 adds its leaf hash and 3 interior ones (2999 ends in binary 0111).
			sqlExec(t, db, f.dsn, `DELETE FROM ledger_records WHERE idx = 2999`)
		}, 2999, ledger.ProblemMissing},
	}
	for _, b := range storetest.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newLedger(t, b)
			batch := make([]ledger.Event, 250)
			for i := 0; i < n; i += len(batch) {
				for j := range batch {
					batch[j] = event(i + j)
				}
				if _, err := f.l.AppendBatch(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			db := storetest.RawDB(t, f.dsn)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					snapshot(t, db, f.dsn, func() {
						tc.tamper(t, db, f)
						res, err := f.l.Verify(ctx, f.vkey)
						if tc.first < 0 {
							if err != nil || res.Size != n {
								t.Fatalf("clean ledger: %v %+v", err, res)
							}
							return
						}
						var ve *ledger.VerifyError
						if !errors.As(err, &ve) {
							t.Fatalf("want VerifyError, got %v", err)
						}
						if p := res.Problems[0]; p.Index != tc.first || p.Kind != tc.kind {
							t.Fatalf("first problem %v, want index %d kind %s (all: %v)", p, tc.first, tc.kind, res.Problems)
						}
						if tc.name == "delete last row" && !strings.Contains(fmt.Sprint(res.Problems), "4 stored hashes beyond the records") {
							t.Fatalf("extra stored hashes not reported: %v", res.Problems)
						}
					})
				})
			}
		})
	}
}

// snapshot runs fn and then restores the ledger tables as they were.
func snapshot(t *testing.T, db *sql.DB, dsn string, fn func()) {
	t.Helper()
	for _, tbl := range []string{"ledger_records", "ledger_hashes"} {
		sqlExec(t, db, dsn, `CREATE TABLE saved_`+tbl+` AS SELECT * FROM `+tbl)
	}
	defer func() {
		for _, tbl := range []string{"ledger_records", "ledger_hashes"} {
			sqlExec(t, db, dsn, `DELETE FROM `+tbl)
			sqlExec(t, db, dsn, `INSERT INTO `+tbl+` SELECT * FROM saved_`+tbl)
			sqlExec(t, db, dsn, `DROP TABLE saved_`+tbl)
		}
	}()
	fn()
}

// Verify holds one connection at a time: several at once on a pool of
// one connection (and a ledger spanning several read chunks) finish.
func TestVerifySmallPool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40,000-record ledger")
	}
	ctx := context.Background()
	f := newLedger(t, store.SQLite)
	batch := make([]ledger.Event, 5000)
	for i := range batch {
		batch[i] = event(i)
	}
	for i := 0; i < 8; i++ {
		if _, err := f.l.AppendBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(ctx, f.dsn, store.WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := ledger.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			res, err := l.Verify(ctx, f.vkey)
			if err == nil && res.Size != 40000 {
				err = fmt.Errorf("size %d", res.Size)
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
