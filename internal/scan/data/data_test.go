package data_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/jsonreport"
	"github.com/mlsec/mlsec/internal/report/reporttest"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/data"
	"github.com/mlsec/mlsec/internal/scan/registry"
)

func engine() *scan.Engine {
	return scan.New(registry.Scanners(registry.Config{}), scan.Options{Workers: 1})
}

func summary(ar finding.ArtifactResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "format %s status %s gaps %q\n", ar.Artifact.Format, ar.Status, ar.Gaps)
	for _, f := range ar.Findings {
		fmt.Fprintf(&b, "%s %s %s\n    %s\n", f.RuleID, f.Severity, f.Location.Pointer, f.Evidence.Text)
	}
	return b.String()
}

func TestFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file  string
		rules string
	}{
		{"customers.csv", "map[MLS-DATA-001:7 MLS-DATA-002:3]"},
		{"events.tsv", "map[MLS-DATA-001:2]"},
		{"users.jsonl", "map[MLS-DATA-001:2 MLS-DATA-002:2]"},
		{"patients.parquet", "map[MLS-DATA-001:3 MLS-DATA-002:1]"},
		{"iris_clean.csv", "map[]"},
		{"metrics_clean.jsonl", "map[]"},
		{"features_clean.parquet", "map[]"},
	}
	e := engine()
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			ar := e.ScanFile(context.Background(), filepath.Join("testdata", c.file))
			if ar.Status != finding.StatusComplete {
				t.Fatalf("status %s, gaps %v", ar.Status, ar.Gaps)
			}
			got := map[string]int{}
			for _, f := range ar.Findings {
				got[f.RuleID]++
			}
			if fmt.Sprint(got) != c.rules {
				t.Errorf("rules = %v, want %s", got, c.rules)
			}
			reporttest.Golden(t, filepath.Join("golden", c.file+".txt"), []byte(summary(ar)))
		})
	}
}

func TestValuesRedacted(t *testing.T) {
	t.Parallel()
	rep, err := engine().Scan(context.Background(), []string{"testdata"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jsonreport.New().Encode(&buf, rep); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"@example.org", "4111", "GB82", "7946", "81.2.69.160", "AB 12 34 56 C"} {
		if bytes.Contains(buf.Bytes(), []byte(v)) {
			t.Errorf("report contains %q", v)
		}
	}
}

// TestStripes plants personal data only far past the head sample: the
// stripes must find it.
func TestStripes(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("id,comment\n")
	for i := 0; i < 40000; i++ {
		if i > 30000 && i%100 == 0 {
			fmt.Fprintf(&b, "%d,contact person%d@example.org\n", i, i)
			continue
		}
		fmt.Fprintf(&b, "%d,all good\n", i)
	}
	in := []byte(b.String())
	res := engine().ScanInput(context.Background(), "big.csv", bytes.NewReader(in), int64(len(in)), finding.Artifact{Path: "big.csv"})
	if len(res.Findings) != 1 || !strings.Contains(res.Findings[0].Evidence.Text, `column "comment"`) {
		t.Fatalf("findings %v", res.Findings)
	}
	if n := res.Findings[0].Evidence.Fields["sampled_rows"].(int); n > 8192+8*512 || n < 8192+512 {
		t.Errorf("sampled %d rows", n)
	}
}

func TestLimitsAndErrors(t *testing.T) {
	t.Parallel()
	lim := data.DefaultLimits()
	lim.MaxRecord = 1000
	s := data.NewWithLimits(lim)
	e := scan.New([]scan.Scanner{s}, scan.Options{Workers: 1})
	cases := []struct {
		name, content, want string
	}{
		{"long.csv", "a,b\n" + strings.Repeat("x", 5000) + "\n", "longer than 1000 bytes"},
		{"bad.jsonl", "{\"a\": 1\n", "line 1"},
		{"x.parquet", "PAR1garbagegarbage", "footer"},
		{"y.parquet", "PAR1" + strings.Repeat("\x00", 20) + "\xff\xff\xff\x00PAR1", "footer length"},
	}
	for _, c := range cases {
		res := e.ScanInput(context.Background(), c.name, strings.NewReader(c.content), int64(len(c.content)), finding.Artifact{Path: c.name})
		if res.Coverage.Complete || !strings.Contains(strings.Join(res.Coverage.Gaps, ";"), c.want) {
			t.Errorf("%s: gaps %v, want %q", c.name, res.Coverage.Gaps, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	s := data.New()
	cases := []struct {
		name, head string
		want       bool
	}{
		{"a.csv", "a,b\n1,2\n", true},
		{"a.TSV", "a\tb\n", true},
		{"a.jsonl", "{\"a\":1}\n", true},
		{"a.jsonl", "[1,2]\n", false},
		{"a.csv", "PK\x03\x04\x00\x00", false},
		{"anything.bin", "PAR1\x15\x04", true},
		{"a.txt", "a,b\n", false},
	}
	for _, c := range cases {
		if got := s.Match(scan.FileInfo{Name: c.name, Head: []byte(c.head), Size: int64(len(c.head))}); got != c.want {
			t.Errorf("Match(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func fuzzSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(pattern)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func fuzzScan(t *testing.T, name string, b []byte) {
	s := data.New()
	e := scan.New([]scan.Scanner{s}, scan.Options{Workers: 1})
	e.ScanInput(context.Background(), name, bytes.NewReader(b), int64(len(b)), finding.Artifact{Path: name})
}

func FuzzCSV(f *testing.F) {
	fuzzSeeds(f, "testdata/*.csv")
	fuzzSeeds(f, "testdata/*.tsv")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, "f.csv", b) })
}

func FuzzJSONL(f *testing.F) {
	fuzzSeeds(f, "testdata/*.jsonl")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, "f.jsonl", b) })
}

func FuzzParquet(f *testing.F) {
	fuzzSeeds(f, "testdata/*.parquet")
	f.Fuzz(func(t *testing.T, b []byte) {
		// The scanner recovers parser panics into gaps; a panic reaching
		// here would be reported by the engine as an internal error.
		s := data.New()
		e := scan.New([]scan.Scanner{s}, scan.Options{Workers: 1})
		res := e.ScanInput(context.Background(), "f.parquet", bytes.NewReader(b), int64(len(b)), finding.Artifact{Path: "f.parquet"})
		for _, g := range res.Coverage.Gaps {
			if strings.Contains(g, "internal error") {
				t.Fatalf("panic escaped: %s", g)
			}
		}
	})
}

// BenchmarkCSV1M scans a 1,000,000-row CSV (about 80 MB): the sample bound
// keeps the cost flat in the file size.
func BenchmarkCSV1M(b *testing.B) {
	p := filepath.Join(b.TempDir(), "big.csv")
	fh, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bytes.NewBuffer(nil)
	w.WriteString("id,email,amount,country,comment\n")
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(w, "%d,user%d@example.org,%d.%02d,GB,order shipped on time\n", i, i, i%1000, i%100)
		if w.Len() > 1<<20 {
			fh.Write(w.Bytes())
			w.Reset()
		}
	}
	fh.Write(w.Bytes())
	fh.Close()
	st, _ := os.Stat(p)
	e := engine()
	b.SetBytes(st.Size())
	b.ResetTimer()
	for b.Loop() {
		ar := e.ScanFile(context.Background(), p)
		if len(ar.Findings) != 1 {
			b.Fatalf("findings %v", ar.Findings)
		}
	}
}
