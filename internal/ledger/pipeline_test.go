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

// appendCanonical must write exactly what Canonical (encoding/json) writes.
func FuzzAppendCanonical(f *testing.F) {
	f.Add("scan", "alice", "m", "1", "sha256:00", "why", "model", "base@1", "x/y", "a.json", int64(3), int64(7), int64(1700000000123456))
	f.Add("x-\u2028", "\x00\b\f\n\r\t\"\\<>&", "\xff\xfe", "\u2029é", "", "", "", "", "", "", int64(0), int64(-1), int64(-62135596800000000))
	f.Add("", "", "", "", "", "", "", "", "", "", int64(0), int64(0), int64(253402300800000000))
	f.Fuzz(func(t *testing.T, action, actor, name, version, digest, reason, kind, ref, media, aname string, size, seq, usec int64) {
		ev := Event{Action: action, Actor: actor, Reason: reason, Seq: seq,
			Subject: Subject{Name: name, Version: version, Digest: digest},
			Time:    time.UnixMicro(usec).UTC()}
		if kind != "" || ref != "" {
			ev.Inputs = []Input{{Kind: kind, Ref: ref, Digest: digest}, {Kind: ref, Ref: kind}}
		}
		if media != "" || size != 0 {
			ev.Attachments = []Attachment{{Digest: digest, MediaType: media, Name: aname, Size: size}, {MediaType: aname}}
		}
		want, werr := ev.Canonical()
		got, gerr := appendCanonical(nil, &ev)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("errors differ: %v / %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("appendCanonical:\n%s\nCanonical:\n%s", got, want)
		}
	})
}
