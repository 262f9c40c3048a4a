package table_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/reporttest"
	"github.com/mlsec/mlsec/internal/report/table"
)

func render(t *testing.T, opts table.Options, r *finding.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := table.New(opts).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts table.Options
		rep  *finding.Report
	}{
		{"sample.txt", table.Options{}, reporttest.Sample()},
		{"sample.color.txt", table.Options{Color: true}, reporttest.Sample()},
		{"sample.verbose.txt", table.Options{Verbose: true}, reporttest.Sample()},
		{"sample.quiet.txt", table.Options{Quiet: true}, reporttest.Sample()},
		{"empty.txt", table.Options{}, reporttest.Empty()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, tc.opts, tc.rep)
			if again := render(t, tc.opts, tc.rep); again != out {
				t.Error("output is not deterministic")
			}
			reporttest.Golden(t, tc.name, []byte(out))
		})
	}
}

func TestContent(t *testing.T) {
	out := render(t, table.Options{}, reporttest.Sample())
	for _, want := range []string{
		"models/evil.pt (pytorch-zip, 2.0 KiB, 3 members)",
		"CRITICAL  MLS-TEST-001  Pickle calls a dangerous function",
		"evil/data.pkl @64 op 12",
		"os.system('true') reached via REDUCE",
		"models/legacy v1.pkl (pickle, 4.9 KiB)  INCONCLUSIVE — not verified clean",
		"gap: pickle: stream truncated at byte 4096",
		"line 12:5 /cells/3/source",
		"1 critical, 2 high, 1 medium, 1 info in 4 files; 1 inconclusive (not verified clean); 1 skipped (not a model format)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Clean and skipped artifacts appear only when verbose.
	for _, quiet := range []string{"clean.safetensors", "README.md"} {
		if strings.Contains(out, quiet) {
			t.Errorf("non-verbose output lists %s", quiet)
		}
		if !strings.Contains(render(t, table.Options{Verbose: true}, reporttest.Sample()), quiet) {
			t.Errorf("verbose output lacks %s", quiet)
		}
	}
	if q := render(t, table.Options{Quiet: true}, reporttest.Sample()); strings.Count(q, "\n") != 1 || !strings.HasPrefix(q, "1 critical") {
		t.Errorf("quiet output is not just the summary: %q", q)
	}
}

func TestColumnsAligned(t *testing.T) {
	out := render(t, table.Options{}, reporttest.Sample())
	var ruleCol, locCol []int
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "MLS-TEST-"); i >= 0 {
			ruleCol = append(ruleCol, i)
			// Location starts after the widest title plus two spaces.
			if j := strings.Index(l, "evil/data.pkl"); j >= 0 {
				locCol = append(locCol, j)
			}
		}
	}
	if len(ruleCol) != 5 {
		t.Fatalf("found %d finding rows, want 5:\n%s", len(ruleCol), out)
	}
	for _, cols := range [][]int{ruleCol, locCol} {
		for _, c := range cols {
			if c != cols[0] {
				t.Errorf("columns not aligned: %v\n%s", cols, out)
				break
			}
		}
	}
}

func TestColor(t *testing.T) {
	plain := render(t, table.Options{}, reporttest.Sample())
	if strings.Contains(plain, "\x1b") {
		t.Error("colourless output contains an escape")
	}
	col := render(t, table.Options{Color: true}, reporttest.Sample())
	for _, want := range []string{
		"\x1b[1;31mCRITICAL\x1b[0m",
		"\x1b[31mHIGH    \x1b[0m",
		"\x1b[33mMEDIUM  \x1b[0m",
		"\x1b[1;33mINCONCLUSIVE — not verified clean\x1b[0m",
		"\x1b[1;31m1 critical\x1b[0m",
	} {
		if !strings.Contains(col, want) {
			t.Errorf("coloured output lacks %q", want)
		}
	}
	// Colours must not change the text.
	if stripANSI(col) != plain {
		t.Errorf("coloured text differs from plain text:\n%s\n---\n%s", stripANSI(col), plain)
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Scanned content must not drive the terminal.
func TestEscapesUntrustedText(t *testing.T) {
	a := finding.Artifact{Path: "x\x1b]0;pwned\a.pkl", Format: "pickle", Size: 10}
	f := finding.New(reporttest.RuleCall, a, finding.Location{Member: "a\u202egpj.pkl\r"})
	f.Evidence.Text = "\x1b[2Jcleared\rover\x00\xff\u200b"
	r := &finding.Report{Artifacts: []finding.ArtifactResult{{Artifact: a, Status: finding.StatusInconclusive,
		Gaps: []string{"bad\nname\x1b[8m"}, Findings: []finding.Finding{f}}}}
	for _, color := range []bool{false, true} {
		out := render(t, table.Options{Color: color}, r)
		check := out
		if color {
			check = stripANSI(out)
		}
		for _, bad := range []string{"\x1b", "\r", "\x00", "\a", "\u202e", "\u200b", "\xff"} {
			if strings.Contains(check, bad) {
				t.Errorf("color=%v: output contains raw %q:\n%q", color, bad, out)
			}
		}
		for _, want := range []string{`x\x1b]0;pwned\a.pkl`, `a\u202egpj.pkl\r`, `\x1b[2Jcleared\rover\x00\xff\u200b`, `bad\nname\x1b[8m`} {
			if !strings.Contains(check, want) {
				t.Errorf("color=%v: output lacks escaped %q:\n%s", color, want, check)
			}
		}
	}
}

func TestSummary(t *testing.T) {
	art := func(path string, st finding.Status, sevs ...finding.Severity) finding.ArtifactResult {
		a := finding.ArtifactResult{Artifact: finding.Artifact{Path: path, Size: 1}, Status: st}
		for _, s := range sevs {
			f := finding.New(reporttest.RuleImport, a.Artifact, finding.Location{})
			f.Severity = s
			a.Findings = append(a.Findings, f)
		}
		return a
	}
	for _, tc := range []struct {
		name string
		arts []finding.ArtifactResult
		want string
	}{
		{"nothing", nil, "no files scanned"},
		{"only skipped", []finding.ArtifactResult{art("a", finding.StatusSkipped), art("b", finding.StatusSkipped)},
			"no files scanned; 2 skipped (not model formats)"},
		{"clean one", []finding.ArtifactResult{art("a", finding.StatusComplete)}, "no findings in 1 file"},
		{"clean many", []finding.ArtifactResult{art("a", finding.StatusComplete), art("b", finding.StatusComplete)},
			"no findings in 2 files"},
		{"clean but inconclusive", []finding.ArtifactResult{art("a", finding.StatusComplete), art("b", finding.StatusInconclusive)},
			"no findings in 2 files; 1 inconclusive (not verified clean)"},
		{"unknown status counts as inconclusive", []finding.ArtifactResult{art("a", "weird")},
			"no findings in 1 file; 1 inconclusive (not verified clean)"},
		{"counts ordered by severity", []finding.ArtifactResult{
			art("a", finding.StatusComplete, finding.High, finding.Critical, finding.Low),
			art("b", finding.StatusComplete, finding.Critical),
			art("c", finding.StatusSkipped)},
			"2 critical, 1 high, 1 low in 2 files; 1 skipped (not a model format)"},
		{"invalid severity", []finding.ArtifactResult{art("a", finding.StatusComplete, finding.Severity(9))},
			"1 of unknown severity in 1 file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, table.Options{Quiet: true}, &finding.Report{Artifacts: tc.arts})
			if out != tc.want+"\n" {
				t.Errorf("summary = %q, want %q", out, tc.want)
			}
		})
	}
}

func TestDoesNotModifyReport(t *testing.T) {
	r := reporttest.Sample()
	// Reverse the artifact order; the table sorts its own copy.
	for i, j := 0, len(r.Artifacts)-1; i < j; i, j = i+1, j-1 {
		r.Artifacts[i], r.Artifacts[j] = r.Artifacts[j], r.Artifacts[i]
	}
	first := r.Artifacts[0].Artifact.Path
	if got, want := render(t, table.Options{}, r), render(t, table.Options{}, reporttest.Sample()); got != want {
		t.Errorf("output depends on artifact order")
	}
	if r.Artifacts[0].Artifact.Path != first {
		t.Error("Encode reordered the report")
	}
}

func TestLongEvidenceIsBounded(t *testing.T) {
	a := finding.Artifact{Path: "big.pkl", Size: 1}
	f := finding.New(reporttest.RuleCall, a, finding.Location{})
	f.Title = strings.Repeat("T", 300)
	f.Evidence.Text = strings.Repeat(strings.Repeat("e", 1000)+"\n", 100)
	r := &finding.Report{Artifacts: []finding.ArtifactResult{{Artifact: a, Status: finding.StatusComplete, Findings: []finding.Finding{f}}}}
	out := render(t, table.Options{}, r)
	if n := strings.Count(out, "\n"); n > 14 {
		t.Errorf("%d lines for one finding", n)
	}
	for _, l := range strings.Split(out, "\n") {
		if len([]rune(l)) > 260 {
			t.Errorf("line of %d runes", len([]rune(l)))
		}
	}
	if !strings.Contains(out, "… 92 more lines") {
		t.Errorf("no truncation note:\n%s", out)
	}
}

func TestNilReport(t *testing.T) {
	if err := table.New(table.Options{}).Encode(&bytes.Buffer{}, nil); err == nil {
		t.Error("want error")
	}
}

func TestInconclusiveWithoutGaps(t *testing.T) {
	r := &finding.Report{Artifacts: []finding.ArtifactResult{{Artifact: finding.Artifact{Path: "a.pkl", Size: 3}, Status: finding.StatusInconclusive}}}
	want := "a.pkl (3 bytes)  INCONCLUSIVE — not verified clean\n  gap: no reason recorded\n\nno findings in 1 file; 1 inconclusive (not verified clean)\n"
	if got := render(t, table.Options{}, r); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
