package notebook_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/jsonreport"
	"github.com/mlsec/mlsec/internal/report/reporttest"
	"github.com/mlsec/mlsec/internal/report/sarif"
	"github.com/mlsec/mlsec/internal/report/table"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/notebook"
	"github.com/mlsec/mlsec/internal/scan/registry"
)

// The fake credentials planted by testdata/gen.py.
var planted = []string{
	"ghp_" + "R8x2Vq7LmN4pZ0tKc9WbYf3HsJd6Ga1UeQ5o",
	"hf_" + "kTqWzYxPmRvLsNbJcHdGfAeUoIuYtReWqZ",
	"AKIA" + "QYLPMN5HHHFPZAM2",
	"x9Yz8Wv7Ut6Sr5Qp4On3Ml2K",
	"sk_live_" + "51HxQz7KfT2mVbN8cRwP4yLd",
	"jane.doe@example.org", "4111 1111 1111 1111", "536-90-4399", "GB82 WEST 1234 5698 7654 32",
}

func engine() *scan.Engine {
	return scan.New(registry.Scanners(registry.Config{}), scan.Options{Workers: 1})
}

// summary renders findings one per line, in a stable order, for golden files.
func summary(ar finding.ArtifactResult) string {
	fs := append([]finding.Finding(nil), ar.Findings...)
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Location.Line != fs[j].Location.Line {
			return fs[i].Location.Line < fs[j].Location.Line
		}
		return fs[i].RuleID < fs[j].RuleID
	})
	var b strings.Builder
	fmt.Fprintf(&b, "format %s status %s members %d gaps %q\n", ar.Artifact.Format, ar.Status, ar.Members, ar.Gaps)
	for _, f := range fs {
		fmt.Fprintf(&b, "%s %s line=%d pointer=%s member=%s\n    %s\n", f.RuleID, f.Severity, f.Location.Line,
			f.Location.Pointer, f.Location.Member, f.Evidence.Text)
	}
	return b.String()
}

func TestNotebooks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file  string
		rules map[string]int
	}{
		{"leaky_v4.ipynb", map[string]int{
			"MLS-NB-001": 3, "MLS-NB-002": 3, "MLS-NB-003": 6, "MLS-NB-004": 1, "MLS-NB-005": 2,
			"MLS-NB-006": 2, "MLS-PKL-001": 2}},
		{"legacy_v3.ipynb", map[string]int{"MLS-NB-001": 1, "MLS-NB-003": 2, "MLS-NB-004": 1}},
		{"clean.ipynb", map[string]int{}},
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
			if fmt.Sprint(got) != fmt.Sprint(c.rules) {
				t.Errorf("rules = %v, want %v", got, c.rules)
			}
			reporttest.Golden(t, filepath.Join("golden", strings.TrimSuffix(c.file, ".ipynb")+".txt"), []byte(summary(ar)))
		})
	}
}

// TestRedactedEverywhere renders the leaky notebooks' report in every
// format and checks that no planted secret or personal value appears.
func TestRedactedEverywhere(t *testing.T) {
	t.Parallel()
	rep, err := engine().Scan(context.Background(), []string{"testdata"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Artifacts) < 3 {
		t.Fatalf("scanned %d artifacts", len(rep.Artifacts))
	}
	outs := map[string]*bytes.Buffer{"json": {}, "sarif": {}, "table": {}}
	if err := jsonreport.New().Encode(outs["json"], rep); err != nil {
		t.Fatal(err)
	}
	if err := sarif.New(sarif.Options{}).Encode(outs["sarif"], rep); err != nil {
		t.Fatal(err)
	}
	if err := table.New(table.Options{Verbose: true}).Encode(outs["table"], rep); err != nil {
		t.Fatal(err)
	}
	for name, buf := range outs {
		for _, s := range planted {
			if bytes.Contains(buf.Bytes(), []byte(s)) {
				t.Errorf("%s report contains planted value %q", name, s)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	s := notebook.New()
	cases := []struct {
		name, head string
		want       bool
	}{
		{"a.ipynb", `{"cells": []}`, true},
		{"a.ipynb", "\xef\xbb\xbf\n {\"nbformat\": 4}", true},
		{"a.json", `{"cells": [{"cell_type": "code"}]}`, true},
		{"a.json", `{"worksheets": [{"cells": [{"cell_type": "code"}]}]}`, true},
		{"config.json", `{"architectures": ["Llama"]}`, false},
		{"a.ipynb", "PK\x03\x04", false},
	}
	for _, c := range cases {
		if got := s.Match(scan.FileInfo{Name: c.name, Head: []byte(c.head), Size: int64(len(c.head))}); got != c.want {
			t.Errorf("Match(%s, %q) = %v, want %v", c.name, c.head, got, c.want)
		}
	}
}

func TestParseLines(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/leaky_v4.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	fileLines := strings.Split(string(b), "\n")
	var cells []*notebook.Cell
	nb, err := notebook.Parse(context.Background(), bytes.NewReader(b), notebook.DefaultLimits(), func(c *notebook.Cell) error {
		cells = append(cells, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if nb.Major != 4 || nb.Minor != 5 || nb.Cells != 8 || len(cells) != 8 {
		t.Fatalf("notebook %+v, %d cells", nb, len(cells))
	}
	// Every source line maps to the file line that holds it.
	for _, c := range cells {
		src := c.Source.S
		off := 0
		for _, l := range strings.SplitAfter(src, "\n") {
			if strings.TrimSpace(l) == "" {
				off += len(l)
				continue
			}
			fl := c.Source.FileLine(off)
			if fl < 1 || fl > len(fileLines) {
				t.Fatalf("cell %d: file line %d out of range", c.Index, fl)
			}
			frag := strings.TrimSpace(l)
			if len(frag) > 12 {
				frag = frag[:12]
			}
			if strings.ContainsAny(frag, "\"\\") {
				off += len(l)
				continue
			}
			if !strings.Contains(fileLines[fl-1], frag) {
				t.Errorf("cell %d line %q mapped to file line %d: %q", c.Index, frag, fl, fileLines[fl-1])
			}
			off += len(l)
		}
	}
	if got := cells[5].Outputs[0].Type; got != "error" {
		t.Errorf("cell 5 output type %q", got)
	}
	tb := cells[5].Outputs[0].Texts
	for _, x := range tb {
		if strings.Contains(x.S, "\x1b[") {
			t.Errorf("ANSI escapes left in %s", x.Pointer)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		lim      func(*notebook.Limits)
		want     string
	}{
		{"not object", `[1,2]`, nil, "not a Jupyter notebook"},
		{"no cells", `{"a": 1}`, nil, "not a Jupyter notebook"},
		{"truncated", `{"cells": [{"cell_type": "code", "source": "x`, nil, "malformed notebook JSON"},
		{"garbage", `{"cells": [}`, nil, "malformed notebook JSON"},
		{"too many cells", `{"cells": [{}, {}, {}]}`, func(l *notebook.Limits) { l.MaxCells = 2 }, "more than 2 cells"},
		{"too large", `{"cells": [{"source": "` + strings.Repeat("a", 5000) + `"}]}`, func(l *notebook.Limits) { l.MaxBytes = 1000 }, "larger than 1000 bytes"},
	}
	for _, c := range cases {
		lim := notebook.DefaultLimits()
		if c.lim != nil {
			c.lim(&lim)
		}
		_, err := notebook.Parse(context.Background(), strings.NewReader(c.in), lim, func(*notebook.Cell) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestTruncatedIsInconclusive(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/leaky_v4.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	cut := b[:len(b)/2]
	res := engine().ScanInput(context.Background(), "cut.ipynb", bytes.NewReader(cut), int64(len(cut)), finding.Artifact{Path: "cut.ipynb"})
	if res.Coverage.Complete {
		t.Error("truncated notebook scanned as complete")
	}
	// Cells before the cut still report.
	if len(res.Findings) == 0 {
		t.Error("no findings from the cells before the cut")
	}
}

func TestInstallTyposquat(t *testing.T) {
	t.Parallel()
	nb := `{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": ["!pip install tourch==2.1.0 numpy==1.26.4\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`
	res := engine().ScanInput(context.Background(), "t.ipynb", strings.NewReader(nb), int64(len(nb)), finding.Artifact{Path: "t.ipynb"})
	if len(res.Findings) != 1 {
		t.Fatalf("findings %v", res.Findings)
	}
	f := res.Findings[0]
	if f.RuleID != "MLS-NB-005" || f.Severity != finding.High || !strings.Contains(f.Evidence.Text, "tourch resembles torch") {
		t.Errorf("finding %s %s %q", f.RuleID, f.Severity, f.Evidence.Text)
	}
}
