package ledger

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// The verify workers' fast check must accept exactly what ParseRecord
// accepts, and hash like tlog.RecordHash.
func FuzzRecordChecker(f *testing.F) {
	ev := Event{Action: ActionScan, Actor: "a", Subject: Subject{Name: "m"}, Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Inputs: []Input{{Kind: "model", Ref: "base"}}, Attachments: []Attachment{{Digest: "sha256:00", MediaType: "x/y"}}}
	good, _ := ev.Canonical()
	f.Add(good)
	f.Add(append(bytes.Clone(good), ' '))
	f.Add(bytes.Replace(good, []byte(`"actor"`), []byte(`"Actor"`), 1))
	f.Add(bytes.Replace(good, []byte(`{"action"`), []byte(`{"extra":1,"action"`), 1))
	f.Add(bytes.Replace(good, []byte(`"seq":0`), []byte(`"seq":0,"seq":0`), 1))
	f.Add([]byte(`{"action":"scan","actor":"a","seq":7,"subject":{"name":"m"},"time":"2024-01-01T00:00:00.5+01:00"}`))
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`[]`))
	c := newRecordChecker()
	f.Fuzz(func(t *testing.T, data []byte) {
		leaf, seq, bad := c.check(data)
		if leaf != tlog.RecordHash(data) {
			t.Fatal("leaf hash differs from tlog.RecordHash")
		}
		ev, err := ParseRecord(data)
		if (err == nil) != (bad == "") {
			t.Fatalf("checker says %q, ParseRecord says %v", bad, err)
		}
		if err == nil && ev.Seq != seq {
			t.Fatalf("seq %d, want %d", seq, ev.Seq)
		}
		if err != nil && bad != err.Error() {
			t.Fatalf("reason %q, want %q", bad, err.Error())
		}
	})
}

func TestFrontierIndexes(t *testing.T) {
	// The frontier is exactly what extending the tree and hashing it read.
	for n := int64(0); n < 300; n++ {
		want := map[int64]bool{}
		r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			for _, x := range idx {
				want[x] = true
			}
			return make([]tlog.Hash, len(idx)), nil
		})
		if _, err := tlog.StoredHashes(n, []byte("x"), r); err != nil {
			t.Fatal(err)
		}
		if _, err := tlog.TreeHash(n, r); err != nil {
			t.Fatal(err)
		}
		got := frontierIndexes(n)
		if len(got) != len(want) {
			t.Fatalf("size %d: frontier %v, read %v", n, got, want)
		}
		for _, x := range got {
			if !want[x] {
				t.Fatalf("size %d: frontier %v, read %v", n, got, want)
			}
		}
	}
}
