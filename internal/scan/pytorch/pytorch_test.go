package pytorch

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/pickle"
)

var evilPickle = []byte("cposix\nsystem\n(S'true'\ntR.")

func engine() *scan.Engine {
	return scan.New([]scan.Scanner{NewLegacy(pickle.Options{}), pickle.New(pickle.Options{})}, scan.Options{Workers: 1})
}

func scanBytes(t *testing.T, name string, b []byte) scan.Result {
	t.Helper()
	return engine().ScanInput(context.Background(), name, bytes.NewReader(b), int64(len(b)), finding.Artifact{Path: name})
}

func keys(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+"@"+f.Location.Member)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestLegacyMagic(t *testing.T) {
	t.Parallel()
	magic := "\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
	for _, tc := range []struct {
		head string
		want bool
	}{
		{"\x80\x02" + magic + ".", true},
		{"\x80\x04\x95\x0d\x00\x00\x00\x00\x00\x00\x00" + magic + ".", true},
		{"\x80\x02" + magic + "q\x00.", true},
		{"L119547037146038801333356L\n.", true},
		{"L119547037146038801333356L\np0\n.", true},
		{"\x80\x02" + magic + "K", false},
		{"\x80\x02\x8a\x0a" + strings.Repeat("\x00", 10) + ".", false},
		{"\x80\x09" + magic + ".", false},
		{"PK\x03\x04", false},
		{"", false},
	} {
		if got := (&Legacy{}).Match(scan.FileInfo{Head: []byte(tc.head)}); got != tc.want {
			t.Errorf("Match(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
}

func TestLegacyFixtures(t *testing.T) {
	t.Parallel()
	ok := finding.StatusComplete
	for _, tc := range []struct {
		file   string
		status finding.Status
		rules  []string
	}{
		{"benign_state_dict_legacy.pt", ok, nil},
		{"legacy_lstm_state_dict.pt", ok, nil},
		{"legacy_mixed_dtypes.pt", ok, nil},
		{"legacy_sequential_state_dict.pt", ok, nil},
		{"mal_full_model_reduce_legacy.pth", ok, []string{"MLS-PKL-001@"}},
	} {
		ar := engine().ScanFile(context.Background(), "testdata/"+tc.file)
		if ar.Artifact.Format != "pytorch-legacy" || ar.Status != tc.status || !slices.Equal(keys(ar.Findings), tc.rules) {
			t.Errorf("%s: format %q status %s findings %v gaps %v", tc.file, ar.Artifact.Format, ar.Status, keys(ar.Findings), ar.Gaps)
		}
	}
}

func TestLegacyTampered(t *testing.T) {
	t.Parallel()
	base, err := os.ReadFile("testdata/legacy_sequential_state_dict.pt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		data  []byte
		gap   string
		rules []string
	}{
		{"appended pickle", append(append([]byte(nil), base...), evilPickle...), "after the last storage", []string{"MLS-PKL-001@<trailing data>"}},
		{"appended junk", append(append([]byte(nil), base...), 1, 2, 3), "after the last storage", nil},
		{"truncated storage", base[:len(base)-5], "storage records", nil},
		{"truncated pickles", base[:40], "of its 5 pickles", nil},
	}
	for _, tc := range tests {
		res := scanBytes(t, "legacy.pt", tc.data)
		if res.Format != "pytorch-legacy" || res.Coverage.Complete {
			t.Errorf("%s: format %q complete %v", tc.name, res.Format, res.Coverage.Complete)
		}
		found := false
		for _, g := range res.Coverage.Gaps {
			found = found || strings.Contains(g, tc.gap)
		}
		if !found {
			t.Errorf("%s: gaps %v lack %q", tc.name, res.Coverage.Gaps, tc.gap)
		}
		for _, r := range tc.rules {
			if !slices.Contains(keys(res.Findings), r) {
				t.Errorf("%s: missing %s in %v", tc.name, r, keys(res.Findings))
			}
		}
	}
}

func TestWalkStoragesGuessesSizes(t *testing.T) {
	t.Parallel()
	// Two storages: 3 float64 and 5 int16, no element sizes known.
	var b bytes.Buffer
	b.Write([]byte{3, 0, 0, 0, 0, 0, 0, 0})
	b.Write(make([]byte, 24))
	b.Write([]byte{5, 0, 0, 0, 0, 0, 0, 0})
	b.Write(make([]byte, 10))
	end, ok := walkStorages(context.Background(), bytes.NewReader(b.Bytes()), 0, int64(b.Len()), []string{"a", "b"}, nil)
	if !ok || end != int64(b.Len()) {
		t.Errorf("walkStorages = %d, %v", end, ok)
	}
	if _, ok := walkStorages(context.Background(), bytes.NewReader(b.Bytes()), 0, int64(b.Len())+3, []string{"a", "b"}, nil); ok {
		t.Error("unexplained trailing bytes accepted")
	}
}

func TestReviewTorchScript(t *testing.T) {
	t.Parallel()
	in := &scan.Input{Artifact: finding.Artifact{Path: "m.pt"}}
	clean := Source{Name: "m/code/__torch__.py", Member: "m/code/__torch__.py", Text: []byte(
		"class M(Module):\n  def forward(self, x: Tensor) -> Tensor:\n    _0 = getattr(self, \"0\")\n    return torch.linear(x, self.w, None)\n")}
	bad := Source{Name: "m/code/__torch__/x.py", Member: "m/code/__torch__/x.py", Text: []byte(
		"def f(x: int) -> int:\n  y = torch.ops.evilns.run(x)\n  return os.system(\"true\")\n")}
	got := ReviewTorchScript(in, []Source{clean})
	if len(got) != 1 || got[0].RuleID != RuleTorchScriptCode.ID {
		t.Fatalf("clean code: %v", keys(got))
	}
	got = ReviewTorchScript(in, []Source{clean, bad})
	var danger *finding.Finding
	for i := range got {
		if got[i].RuleID == RuleTorchScriptDangerous.ID {
			danger = &got[i]
		}
	}
	if danger == nil || danger.Location.Line != 3 || !strings.Contains(danger.Evidence.Text, "os.system") {
		t.Fatalf("dangerous code: %+v", got)
	}
	last := got[len(got)-1]
	if !strings.Contains(last.Evidence.Text, "evilns") {
		t.Errorf("custom op namespace not listed: %s", last.Evidence.Text)
	}
	if ReviewTorchScript(in, nil) != nil {
		t.Error("no sources should give no findings")
	}
}

var scanInput = scan.Input{Artifact: finding.Artifact{Path: "m.pt"}}
