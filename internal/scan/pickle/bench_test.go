package pickle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
)

var fakeArtifact = finding.Artifact{Path: "x.pkl"}

// bigStateDict builds a protocol 4 pickle shaped like a PyTorch state dict
// with n tensors (persistent storages, _rebuild_tensor_v2, OrderedDict).
func bigStateDict(n int) []byte {
	var b bytes.Buffer
	su := func(s string) { b.WriteByte(0x8c); b.WriteByte(byte(len(s))); b.WriteString(s) }
	b.WriteString("\x80\x04")
	su("collections")
	su("OrderedDict")
	b.WriteString("\x93\x94)R\x94(") // memo 0 = OrderedDict, memo 1 = OrderedDict()
	su("torch._utils")
	su("_rebuild_tensor_v2")
	b.WriteString("\x93\x94") // memo 2
	for i := 0; i < n; i++ {
		su(fmt.Sprintf("layer%d.weight", i))
		b.WriteString("h\x02(")
		b.WriteString("(")
		su("storage")
		su("torch")
		su("FloatStorage")
		b.WriteString("\x93")
		su(fmt.Sprint(i))
		su("cpu")
		b.WriteString("M\x00\x01tQ") // BINPERSID
		b.WriteString("K\x00M\x10\x00K\x10\x86K\x10K\x01\x86\x89h\x00)RtR")
	}
	b.WriteString("u.")
	return b.Bytes()
}

func BenchmarkAnalyzeStateDict(b *testing.B) {
	data := bigStateDict(20_000)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := AnalyzeBytes(ctx, data, Options{})
		if err != nil || len(a.Issues) != 0 || !a.Complete() {
			b.Fatalf("%v %v %v", err, a.Issues, a.Gaps)
		}
	}
}

func BenchmarkAnalyzeJoblib(b *testing.B) {
	data, err := os.ReadFile("testdata/benign/sklearn_gb.joblib")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := AnalyzeBytes(ctx, data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLooksLikePickle(b *testing.B) {
	data := bigStateDict(200)[:8192]
	for b.Loop() {
		if !LooksLikePickle(data, 1<<20) {
			b.Fatal("no match")
		}
	}
}

func TestBigStateDict(t *testing.T) {
	data := bigStateDict(100)
	a, err := AnalyzeBytes(context.Background(), data, Options{})
	if err != nil || len(a.Issues) != 0 || !a.Complete() {
		t.Fatalf("%v %s", err, issuesText(a))
	}
}
