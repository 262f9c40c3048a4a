package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

// FuzzEncoders feeds scanner-controlled strings (paths, member names,
// evidence, gaps, formats) and positions through every encoder. Whatever
// they hold: no encoder fails or panics, the table never passes a control
// or bidi character to the terminal, the JSON stays valid against
// schema/report.schema.json and the SARIF against the OASIS schema (so every
// path becomes a valid URI reference).
func FuzzEncoders(f *testing.F) {
	f.Add("models/evil.pt", "evil/data.pkl", "os.system('true')", "truncated", "pickle", int64(64), 12, 0, 0, byte(4))
	f.Add("models/legacy v1.pkl", "", "GLOBAL builtins eval\n(more)", "limit", "", int64(-1), -1, 12, 5, byte(3))
	f.Add("/abs/ü#1?.pt", "a\u202eb!c", "\x1b[2J\r\x00", "bad\nname", "x\x1b", int64(0), 0, 1, 1, byte(0))
	f.Add("a:b/../%41", "../../etc", "", "", "zip", int64(1<<40), 1<<20, -3, -7, byte(2))
	f.Add(`C:\x\y.pt`, "\xff\xfe", "\u2028", "\t", "\xc0", int64(7), 3, 0, 9, byte(1))

	tableEnc, err := report.New("table", report.Options{Color: true, Verbose: true})
	if err != nil {
		f.Fatal(err)
	}
	jsonEnc, _ := report.New("json", report.Options{})
	sarifEnc, _ := report.New("sarif", report.Options{})
	jsonSchema := reporttest.Schema(f, "../../schema/report.schema.json")
	sarifSchema := reporttest.Schema(f, "sarif/testdata/sarif-schema-2.1.0.json")

	f.Fuzz(func(t *testing.T, path, member, evidence, gap, format string, offset int64, opcode, line, col int, sev byte) {
		a := finding.Artifact{Path: path, Size: 10, Format: format}
		loc := finding.Location{Member: member, Line: line, Column: col}
		if offset >= 0 {
			loc.Offset = &offset
		}
		if opcode >= 0 {
			loc.Opcode = &opcode
		}
		fd := finding.New(reporttest.RuleCall, a, loc)
		fd.Severity = finding.Severity(sev % 5)
		fd.Title = evidence // titles are ours, but stress the columns anyway
		fd.Evidence = finding.Evidence{Text: evidence, Fields: map[string]any{"s": evidence}}
		r := &finding.Report{
			Tool:      finding.Tool{Name: "mlsec", Version: "fuzz"},
			StartedAt: reporttest.Start,
			Targets:   []string{path},
			Artifacts: []finding.ArtifactResult{
				{Artifact: a, Status: finding.StatusInconclusive, Gaps: []string{gap, member}, Findings: []finding.Finding{fd}},
				{Artifact: finding.Artifact{Path: member}, Status: finding.StatusSkipped},
			},
		}
		r.Finalize()

		var tb bytes.Buffer
		if err := tableEnc.Encode(&tb, r); err != nil {
			t.Fatal(err)
		}
		plain := stripSGR(tb.String())
		for _, r := range plain {
			if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' || r == '\u2028') {
				t.Fatalf("table passes %U to the terminal: %q", r, plain)
			}
		}

		// The JSON schema constrains values the finding model does not
		// (1-based lines, rule ID pattern), so validate only inputs a
		// scanner could legitimately produce.
		var jb bytes.Buffer
		if err := jsonEnc.Encode(&jb, r); err != nil {
			t.Fatal(err)
		}
		if line >= 0 && col >= 0 {
			if err := reporttest.Validate(jsonSchema, jb.Bytes()); err != nil {
				t.Fatalf("json invalid: %v\n%s", err, jb.Bytes())
			}
		}

		var sb bytes.Buffer
		if err := sarifEnc.Encode(&sb, r); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(sb.Bytes()) {
			t.Fatal("sarif is not JSON")
		}
		if err := reporttest.Validate(sarifSchema, sb.Bytes()); err != nil {
			t.Fatalf("sarif invalid: %v\n%s", err, sb.Bytes())
		}
	})
}

// stripSGR removes the colour sequences the table itself writes.
func stripSGR(s string) string {
	for _, code := range []string{"\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[1;31m", "\x1b[32m", "\x1b[33m", "\x1b[1;33m", "\x1b[36m"} {
		s = strings.ReplaceAll(s, code, "")
	}
	return s
}
