package pep440

import (
	"bufio"
	"cmp"
	"os"
	"strings"
	"testing"
)

// pepOrdering is the ordering example of PEP 440 ("Summary of permitted
// suffixes and relative ordering"), in ascending order.
var pepOrdering = []string{
	"1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
	"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456",
	"1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34",
	"1.0.post456", "1.0.15", "1.1.dev1",
}

func TestPEPOrdering(t *testing.T) {
	vs := make([]Version, len(pepOrdering))
	for i, s := range pepOrdering {
		vs[i] = MustParse(s)
	}
	for i := range vs {
		for j := range vs {
			want := cmp.Compare(i, j)
			if got := vs[i].Compare(vs[j]); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", pepOrdering[i], pepOrdering[j], got, want)
			}
		}
	}
}

func TestNormalization(t *testing.T) {
	// The examples of PEP 440's "Normalization" section, and a few more.
	for _, tc := range []struct{ in, want string }{
		{"1.1RC1", "1.1rc1"},
		{"00", "0"}, {"09000", "9000"}, {"1.0001", "1.1"},
		{"1.1.a1", "1.1a1"}, {"1.1-a1", "1.1a1"}, {"1.1_a1", "1.1a1"},
		{"1.0a.1", "1.0a1"}, {"1.0a-1", "1.0a1"},
		{"1.1alpha1", "1.1a1"}, {"1.1beta2", "1.1b2"}, {"1.1c3", "1.1rc3"},
		{"1.1pre4", "1.1rc4"}, {"1.1preview5", "1.1rc5"},
		{"1.2a", "1.2a0"},
		{"1.2-post2", "1.2.post2"}, {"1.2post2", "1.2.post2"}, {"1.2_post2", "1.2.post2"}, {"1.2.post-2", "1.2.post2"},
		{"1.0-r4", "1.0.post4"}, {"1.0-rev4", "1.0.post4"},
		{"1.2.post", "1.2.post0"}, {"1.0-1", "1.0.post1"},
		{"1.2-dev2", "1.2.dev2"}, {"1.2dev2", "1.2.dev2"}, {"1.2.dev", "1.2.dev0"},
		{"1.0+ubuntu-1", "1.0+ubuntu.1"}, {"1.0+ubuntu_1", "1.0+ubuntu.1"}, {"1.0+UBUNTU.1", "1.0+ubuntu.1"},
		{"v1.0", "1.0"}, {"V1.0", "1.0"},
		{" 1.0\n", "1.0"},
		{"1!2.0.0", "1!2.0.0"}, {"0!1.0", "1.0"},
		{"1.0.0rc1.post2.dev3+local.7", "1.0.0rc1.post2.dev3+local.7"},
	} {
		v, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := v.String(); got != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{
		"", "french toast", "1.0+", "1.0+a+b", "1..0", ".1", "1.0-", "1.0a1a2", "1.0.post1.post2",
		"1.0-1-1", "1.0dev1.post1", "1!", "!1.0", "1.0 beta", "1.0+local..1",
		"0.1.2-1", // only a post-release may follow a bare '-': "-1" is fine but not after "-1"
		strings.Repeat("1.", 200) + "1",
		"99999999999999999999999",
	} {
		if s == "0.1.2-1" {
			// This one is valid: 0.1.2.post1 (ctx's PYSEC-2022-199 uses it).
			if v, err := Parse(s); err != nil || v.String() != "0.1.2.post1" {
				t.Errorf("Parse(%q) = %v, %v; want 0.1.2.post1", s, v, err)
			}
			continue
		}
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", s)
		}
	}
}

func TestEquality(t *testing.T) {
	for _, p := range [][2]string{{"1.0", "1.0.0"}, {"1.0", "1.0.0.0"}, {"1.0a", "1.0a0"}, {"1.0.post", "1.0-0"}, {"0!1.0", "1.0"}} {
		if MustParse(p[0]).Compare(MustParse(p[1])) != 0 {
			t.Errorf("%s != %s", p[0], p[1])
		}
	}
	if MustParse("1!1.0").Compare(MustParse("2.0")) <= 0 {
		t.Error("epoch ignored")
	}
}

// TestScalibrVectors runs osv-scalibr's PyPI ordering vectors. Lines whose
// versions are not PEP 440 are counted and skipped.
func TestScalibrVectors(t *testing.T) {
	for _, file := range []string{"testdata/pypi-versions.txt", "testdata/pypi-versions-generated.txt"} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		n, skipped := 0, 0
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "//") {
				continue
			}
			parts := strings.Fields(line)
			if len(parts) != 3 {
				t.Fatalf("%s: bad line %q", file, line)
			}
			a, errA := Parse(parts[0])
			b, errB := Parse(parts[2])
			if errA != nil || errB != nil {
				skipped++
				continue
			}
			want := map[string]int{"<": -1, "=": 0, ">": 1}[parts[1]]
			if got := a.Compare(b); got != want {
				t.Errorf("%s: %s: Compare = %d, want %d", file, line, got, want)
			}
			if got := b.Compare(a); got != -want {
				t.Errorf("%s: %s reversed: Compare = %d, want %d", file, line, got, -want)
			}
			n++
		}
		f.Close()
		if n < 20 {
			t.Errorf("%s: only %d vectors", file, n)
		}
		t.Logf("%s: %d vectors checked, %d non-PEP 440 skipped", file, n, skipped)
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Django", "django"}, {"scikit_learn", "scikit-learn"}, {"Scikit.Learn", "scikit-learn"},
		{"friendly-bard", "friendly-bard"}, {"Friendly-Bard", "friendly-bard"}, {"FRIENDLY-BARD", "friendly-bard"},
		{"friendly.bard", "friendly-bard"}, {"friendly_bard", "friendly-bard"}, {"friendly--bard", "friendly-bard"},
		{"FrIeNdLy-._.-bArD", "friendly-bard"},
	} {
		if got := NormalizeName(tc.in); got != tc.want {
			t.Errorf("NormalizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range pepOrdering {
		f.Add(s, "1.0")
	}
	f.Add("1!2.0rc1.post2.dev3+abc.1", "v1.0-1")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, err := Parse(a)
		if err != nil {
			return
		}
		// Normal form round-trips and compares equal.
		n, err := Parse(va.String())
		if err != nil {
			t.Fatalf("normal form %q of %q does not parse: %v", va.String(), a, err)
		}
		if n.String() != va.String() || n.Compare(va) != 0 {
			t.Fatalf("normal form of %q not stable", a)
		}
		vb, err := Parse(b)
		if err != nil {
			return
		}
		if va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("Compare not antisymmetric for %q, %q", a, b)
		}
	})
}
