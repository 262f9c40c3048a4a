package gguf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

func maxSeverity(fs []finding.Finding) finding.Severity {
	m := finding.Severity(-1)
	for _, f := range fs {
		m = max(m, f.Severity)
	}
	return m
}

func TestFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.gguf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	eng := scan.New([]scan.Scanner{New()}, scan.Options{Workers: 1})
	for _, p := range files {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			ar := eng.ScanFile(context.Background(), p)
			sev := maxSeverity(ar.Findings)
			switch {
			case strings.HasPrefix(name, "valid_"):
				if ar.Status != finding.StatusComplete || len(ar.Findings) != 0 || ar.Artifact.Format != "gguf" {
					t.Errorf("status %s format %q gaps %v findings %+v, want complete and clean", ar.Status, ar.Artifact.Format, ar.Gaps, ar.Findings)
				}
			case strings.HasPrefix(name, "mal_"):
				if ar.Status != finding.StatusComplete || sev < finding.High {
					t.Errorf("status %s gaps %v findings %+v, want high or critical", ar.Status, ar.Gaps, ar.Findings)
				}
			case strings.HasPrefix(name, "include_"):
				if sev != finding.Medium {
					t.Errorf("findings %+v, want medium", ar.Findings)
				}
			case strings.HasPrefix(name, "invalid_"):
				if ar.Status != finding.StatusInconclusive {
					t.Errorf("status %s, want inconclusive", ar.Status)
				}
			default:
				t.Fatalf("fixture %s has no known prefix", name)
			}
		})
	}
}

func TestCriticalEscapes(t *testing.T) {
	t.Parallel()
	eng := scan.New([]scan.Scanner{New()}, scan.Options{Workers: 1})
	for _, name := range []string{"mal_cve-2024-34359.gguf", "mal_named_template.gguf", "mal_attr-filter-concat.gguf", "mal_format-obfuscated.gguf"} {
		ar := eng.ScanFile(context.Background(), filepath.Join("testdata", name))
		if len(ar.Findings) == 0 || ar.Findings[0].Severity != finding.Critical || ar.Findings[0].RuleID != RuleTemplateEscape.ID {
			t.Errorf("%s: findings %+v, want a critical %s first", name, ar.Findings, RuleTemplateEscape.ID)
			continue
		}
		if ar.Findings[0].Location.Offset == nil || ar.Findings[0].Location.Pointer == "" {
			t.Errorf("%s: finding lacks offset or key: %+v", name, ar.Findings[0].Location)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/valid_named_templates.gguf")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || len(f.Tensors) != 3 || len(f.Templates) != 3 || f.Architecture != "llama" {
		t.Errorf("got version %d, %d tensors, %d templates, arch %q", f.Version, len(f.Tensors), len(f.Templates), f.Architecture)
	}
	be, err := os.ReadFile("testdata/valid_big_endian.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if f, err := Parse(context.Background(), bytes.NewReader(be), int64(len(be))); err != nil || !f.BigEndian {
		t.Errorf("big-endian file: %v", err)
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	s := New()
	for head, want := range map[string]bool{
		"GGUF\x03\x00\x00\x00": true, "GGUF\x00\x00\x00\x02": true, "GGUF\x09\x00\x00\x00": false,
		"GGML\x03\x00\x00\x00": false, "GGUF": false,
	} {
		if got := s.Match(scan.FileInfo{Head: []byte(head), Size: int64(len(head))}); got != want {
			t.Errorf("Match(%q) = %v, want %v", head, got, want)
		}
	}
}

func FuzzGGUF(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.gguf")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err == nil && file == nil {
			t.Fatal("nil file without error")
		}
		if file != nil {
			var res scan.Result
			checkTemplates(&scan.Input{}, file.Templates, &res)
		}
	})
}
