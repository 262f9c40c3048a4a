package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
)

// corpusEntry is one sample of testdata/corpus/manifest.json (a copy of the
// shared sample corpus).
type corpusEntry struct {
	Path      string `json:"path"`
	Format    string `json:"format"`
	Verdict   string `json:"verdict"`
	Technique string `json:"technique"`
	Grey      bool   `json:"grey"`
}

// TestCorpus runs the whole CLI on every sample and holds it to the
// manifest: malicious → exit 1 with a critical or high finding; benign →
// exit 0; invalid → inconclusive or error, never clean.
func TestCorpus(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/corpus/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Entries []corpusEntry `json:"entries"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) < 40 {
		t.Fatalf("manifest has only %d entries", len(m.Entries))
	}
	for _, e := range m.Entries {
		t.Run(e.Path, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata/corpus", e.Path)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := RunContext(ctx, []string{"mlsec", "scan", "--format", "json", "--no-color", path}, &stdout, &stderr)
			var rep finding.Report
			if code != ExitError {
				if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
					t.Fatalf("exit %d, bad JSON: %v\n%s", code, err, stdout.String())
				}
			}
			switch e.Verdict {
			case "malicious":
				if code != ExitFindings || rep.Summary.Highest == nil || *rep.Summary.Highest < finding.High {
					t.Errorf("%s (%s): exit %d, want 1 with a high or critical finding\n%s%s", e.Path, e.Technique, code, stdout.String(), stderr.String())
				}
			case "benign":
				want := ExitClean
				if e.Grey && code == ExitFindings {
					t.Logf("%s: grey sample flagged (allowed): %s", e.Path, e.Technique)
					return
				}
				if code != want {
					t.Errorf("%s (%s): exit %d, want %d\n%s%s", e.Path, e.Technique, code, want, stdout.String(), stderr.String())
				}
			case "invalid":
				if code == ExitClean {
					t.Errorf("%s (%s): reported clean, want inconclusive or error\n%s", e.Path, e.Technique, stdout.String())
				}
			default:
				t.Fatalf("unknown verdict %q", e.Verdict)
			}
		})
	}
}
