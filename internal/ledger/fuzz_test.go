package ledger_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/mlsec/mlsec/internal/ledger"
)

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"action":"scan","actor":"a","seq":0,"subject":{"name":"m"},"time":"2024-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ledger.ParseRecord(data)
		if err != nil {
			return
		}
		c, err := ev.Canonical()
		if err != nil || !bytes.Equal(c, data) {
			t.Fatalf("accepted record is not canonical: %q vs %q", data, c)
		}
	})
}

func FuzzCheckpointAndProof(f *testing.F) {
	_, vkey, _ := ledger.GenerateKey("fuzz.example/log")
	f.Add([]byte("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), []byte(`{"type":"mlsec-ledger-inclusion-proof/v1","index":0,"record":"{}","checkpoint":"x","proof":[]}`))
	f.Fuzz(func(t *testing.T, cp, proof []byte) {
		_, _ = ledger.ParseCheckpoint(string(cp))
		p, err := ledger.ParseProof(proof)
		if err != nil {
			return
		}
		if _, err := ledger.VerifyProof(p, vkey); err == nil {
			t.Fatal("forged proof verified")
		}
	})
}

func FuzzImportVerify(f *testing.F) {
	f.Add([]byte(`{"type":"header","format":"mlsec-ledger-export/v1","size":0}` + "\n"))
	f.Add([]byte(`{"type":"header","format":"mlsec-ledger-export/v1","public_key":"a+b+c","size":1}` + "\n" + `{"type":"record","index":0,"record":{}}`))
	_, vkey, _ := ledger.GenerateKey("fuzz.example/log")
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ledger.ImportVerify(context.Background(), bytes.NewReader(data), vkey, nil)
		if err == nil && res.Size > 0 {
			t.Fatal("export signed by nobody verified")
		}
	})
}
