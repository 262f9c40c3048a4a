package onnx

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/onnx/protowalk"
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
	files, err := filepath.Glob("testdata/*.onnx")
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
				if ar.Status != finding.StatusComplete || sev > finding.Info || ar.Artifact.Format != "onnx" {
					t.Errorf("status %s format %q max severity %v gaps %v findings %+v, want complete and clean", ar.Status, ar.Artifact.Format, sev, ar.Gaps, ar.Findings)
				}
			case strings.HasPrefix(name, "custom_"):
				if ar.Status != finding.StatusComplete || sev != finding.Medium || ar.Findings[0].RuleID != RuleCustomDomain.ID {
					t.Errorf("status %s findings %+v, want one medium custom-domain finding", ar.Status, ar.Findings)
				}
			case strings.HasPrefix(name, "mal_"):
				if ar.Status != finding.StatusComplete || sev < finding.High || ar.Findings[0].RuleID != RuleExternalDataPath.ID {
					t.Errorf("status %s gaps %v findings %+v, want a high external-data finding", ar.Status, ar.Gaps, ar.Findings)
				}
			case strings.HasPrefix(name, "invalid_"):
				if ar.Status != finding.StatusInconclusive {
					t.Errorf("status %s format %q, want inconclusive", ar.Status, ar.Artifact.Format)
				}
			default:
				t.Fatalf("fixture %s has no known prefix", name)
			}
		})
	}
}

func TestLocalFunctionListed(t *testing.T) {
	t.Parallel()
	eng := scan.New([]scan.Scanner{New()}, scan.Options{Workers: 1})
	ar := eng.ScanFile(context.Background(), "testdata/valid_local_function.onnx")
	if len(ar.Findings) != 1 || ar.Findings[0].RuleID != RuleLocalFunctions.ID {
		t.Fatalf("findings %+v, want the local-function listing only", ar.Findings)
	}
	if !strings.Contains(ar.Findings[0].Evidence.Text, "local.fns:Twice") {
		t.Errorf("evidence %q does not name the function", ar.Findings[0].Evidence.Text)
	}
}

func TestSymlinkedExternalData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/valid_external_data.onnx")
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(model, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "valid_external_data.onnx.data")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	eng := scan.New([]scan.Scanner{New()}, scan.Options{Workers: 1})
	ar := eng.ScanFile(context.Background(), model)
	if maxSeverity(ar.Findings) < finding.High || !strings.Contains(ar.Findings[0].Evidence.Text, "symbolic link") {
		t.Errorf("findings %+v, want a high symlink finding", ar.Findings)
	}
}

func TestUnsafeLocation(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"weights.bin": false, "data/w.bin": false, "a..b": false, "./w": false,
		"../w": true, "a/../../w": true, `..\w`: true, "/etc/passwd": true, `\\host\share`: true,
		`C:\w`: true, "c:/w": true, "http://x/w": true, "file:w": true, "~/w": true, "": true, "a\x00b": true,
	}
	for loc, bad := range cases {
		if got := UnsafeLocation(loc) != ""; got != bad {
			t.Errorf("UnsafeLocation(%q) unsafe = %v, want %v", loc, got, bad)
		}
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	valid, err := os.ReadFile("testdata/valid_mlp.onnx")
	if err != nil {
		t.Fatal(err)
	}
	garbage, err := os.ReadFile("testdata/invalid_corpus_garbage.onnx")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		head []byte
		size int64
		want bool
	}{
		{"valid", valid, int64(len(valid)), true},
		{"valid head of a larger file", valid[:60], 1 << 20, true},
		{"garbage", garbage, int64(len(garbage)), false},
		{"savedmodel-like", []byte{0x08, 0x01, 0x12, 0x04, 0x0a, 0x02, 0x08, 0x01}, 8, false},
		{"pickle", []byte("\x80\x02}q\x00."), 6, false},
		{"ir 0", []byte{0x08, 0x00, 0x3a, 0x00}, 4, false},
	}
	for _, c := range cases {
		if got := Detect(c.head, c.size); got != c.want {
			t.Errorf("%s: Detect = %v, want %v", c.name, got, c.want)
		}
	}
}

func FuzzONNX(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.onnx")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		Detect(b[:min(len(b), scan.HeadSize)], int64(len(b)))
		m, _ := Decode(protowalk.New(context.Background(), bytes.NewReader(b), int64(len(b))))
		if m == nil {
			t.Fatal("nil model")
		}
		for _, e := range m.External {
			UnsafeLocation(e.Location)
		}
	})
}
