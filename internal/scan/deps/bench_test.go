package deps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlsec/mlsec/internal/pep440"
	"github.com/mlsec/mlsec/internal/scan"
)

// BenchmarkScanProject scans a 10,000-file project: 9,800 source and data
// files, 100 requirements files of 40 pinned ML dependencies each and 100
// pyproject.toml files, with the real-record vulnerability database.
func BenchmarkScanProject(b *testing.B) {
	dir := b.TempDir()
	deps := []string{"torch==1.13.0", "numpy==1.26.4", "pillow==9.0.0", "mlflow==2.9.0", "transformers==4.30.0",
		"tensorflow==2.6.0", "scikit-learn==1.3.2", "pandas==2.1.0"}
	for i := range 10000 {
		sub := filepath.Join(dir, fmt.Sprintf("pkg%03d", i/100))
		os.MkdirAll(sub, 0o755)
		var name, body string
		switch i % 100 {
		case 0:
			name = "requirements.txt"
			for j := range 40 {
				body += deps[j%len(deps)] + "\n"
			}
		case 1:
			name = "pyproject.toml"
			body = "[project]\nname = \"p\"\ndependencies = [\"torch>=1.12\", \"numpy==1.26.4\", \"mlflow~=2.9\"]\n"
		default:
			name = fmt.Sprintf("module%d.py", i)
			body = "import torch\n\ndef f(x):\n    return x * 2\n"
		}
		if err := os.WriteFile(filepath.Join(sub, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	db := testDB(b)
	for b.Loop() {
		eng := scan.New([]scan.Scanner{New(Options{DB: db})}, scan.Options{})
		rep, err := eng.Scan(context.Background(), []string{dir})
		if err != nil || rep.Summary.Artifacts != 10000 || rep.Summary.Complete != 200 {
			b.Fatalf("%+v %v", rep.Summary, err)
		}
	}
}

// BenchmarkCheckPackage is the per-package cost of the checks for one
// pinned requirement (lookup cached after the first scan, as in a run).
func BenchmarkCheckPackage(b *testing.B) {
	s := New(Options{DB: testDB(b)})
	m := &Manifest{Kind: KindRequirements}
	m.add(Package{Name: "torch", Specifier: mustSet("==1.13.0"), Line: 1})
	in := &scan.Input{}
	for b.Loop() {
		if fs, err := s.Check(context.Background(), in, m); err != nil || len(fs) != 1 {
			b.Fatalf("%d %v", len(fs), err)
		}
	}
}

// BenchmarkTyposquat is the cost of the typosquat check for one name.
func BenchmarkTyposquat(b *testing.B) {
	for b.Loop() {
		CheckTyposquat("acme-feature-store")
	}
}

func mustSet(s string) pep440.Set {
	set, err := pep440.ParseSet(s)
	if err != nil {
		panic(err)
	}
	return set
}
