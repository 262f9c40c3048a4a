package archive

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

var markerRule = finding.MustRegister(finding.Rule{
	ID: "MLS-TEST-950", Name: "ArchiveTestMarker", Title: "archive test marker",
	Severity: finding.Critical, Summary: "Emitted by the archive tests' stand-in content scanner.",
})

// markerScanner stands in for the pickle engine: it claims content that
// starts like a binary pickle or with "EVIL"/"GOOD", and flags content
// whose head mentions "system" or "eval" or starts with "EVIL".
type markerScanner struct{}

func (markerScanner) Name() string { return "marker" }
func (markerScanner) Match(f scan.FileInfo) bool {
	h := f.Head
	return (len(h) > 1 && h[0] == 0x80 && h[1] <= 5) || bytes.HasPrefix(h, []byte("cposix\n")) ||
		bytes.HasPrefix(h, []byte("EVIL")) || bytes.HasPrefix(h, []byte("GOOD"))
}
func (markerScanner) Scan(_ context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult("marker")
	if bytes.HasPrefix(in.Head, []byte("EVIL")) || bytes.Contains(in.Head, []byte("system")) || bytes.Contains(in.Head, []byte("eval")) {
		res.Add(in.NewFinding(markerRule))
	}
	return res, nil
}

func testEngine(lim scan.Limits) *scan.Engine {
	return scan.New(append(Scanners(), markerScanner{}), scan.Options{Limits: lim, Workers: 1})
}

func scanBytes(t testing.TB, name string, b []byte, lim scan.Limits) scan.Result {
	t.Helper()
	if lim == (scan.Limits{}) {
		lim = scan.DefaultLimits()
	}
	return testEngine(lim).ScanInput(context.Background(), name, bytes.NewReader(b), int64(len(b)), finding.Artifact{Path: name})
}

func scanPath(t testing.TB, path string) finding.ArtifactResult {
	t.Helper()
	return testEngine(scan.DefaultLimits()).ScanFile(context.Background(), path)
}

// findingKeys returns "rule@member" for each finding.
func findingKeys(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+"@"+f.Location.Member)
	}
	return out
}

func hasFinding(fs []finding.Finding, rule, member string) bool {
	for _, f := range fs {
		if f.RuleID == rule && (member == "" || f.Location.Member == member) {
			return true
		}
	}
	return false
}

func gapsContain(gaps []string, sub string) bool {
	for _, g := range gaps {
		if strings.Contains(g, sub) {
			return true
		}
	}
	return false
}

// zeroLimits selects scan.DefaultLimits in scanBytes.
var zeroLimits scan.Limits
