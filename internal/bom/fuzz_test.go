package bom_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/mlsec/mlsec/internal/bom"
)

// FuzzDecodeDiff feeds arbitrary documents to the diff's BOM reader.
func FuzzDecodeDiff(f *testing.F) {
	for _, p := range []string{"testdata/golden/hf-textclf.cdx.json", "testdata/golden/onnx-mlp.cdx.xml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"file","name":"x.pt"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bom.IsCycloneDX(data) {
			return
		}
		b, err := bom.DecodeCycloneDX(bytes.NewReader(data))
		if err != nil {
			return
		}
		inv := bom.InventoryOf(b)
		if d := bom.Compare(inv, inv); len(d) != 0 {
			t.Fatalf("a BOM differs from itself: %+v", d)
		}
	})
}
