package deps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/vulndb"
)

// osvRecords are the real OSV records kept as vulndb's fixtures.
const osvRecords = "../../vulndb/testdata/osv"

var (
	dbOnce sync.Once
	dbPath string
	dbErr  error
)

// testDB imports the real OSV records once into a shared database file.
func testDB(t testing.TB) *vulndb.DB {
	t.Helper()
	dbOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mlsec-deps-test-")
		if err != nil {
			dbErr = err
			return
		}
		dbPath = filepath.Join(dir, "vulndb.sqlite")
		w, err := vulndb.Open(context.Background(), dbPath)
		if err != nil {
			dbErr = err
			return
		}
		defer w.Close()
		_, dbErr = w.Import(context.Background(), osvRecords, vulndb.ImportOptions{})
	})
	if dbErr != nil {
		t.Fatal(dbErr)
	}
	db, err := vulndb.OpenReadOnly(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func scanDir(t testing.TB, dir string, opts Options) *finding.Report {
	t.Helper()
	eng := scan.New([]scan.Scanner{New(opts)}, scan.Options{Workers: 2})
	rep, err := eng.Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// summarize renders findings as "file:line RULE severity detail" lines.
func summarize(rep *finding.Report) []string {
	var out []string
	for _, ar := range rep.Artifacts {
		for _, f := range ar.Findings {
			detail := f.Evidence.Fields["package"]
			if ids, ok := f.Evidence.Fields["advisories"].([]string); ok {
				detail = fmt.Sprintf("%v %s", detail, strings.Join(ids, ","))
			}
			if fix, ok := f.Evidence.Fields["fixed"]; ok {
				detail = fmt.Sprintf("%v fix=%v", detail, fix)
			}
			out = append(out, fmt.Sprintf("%s:%d %s %s %v", filepath.Base(ar.Artifact.Path), f.Location.Line, f.RuleID, f.Severity, detail))
		}
	}
	sort.Strings(out)
	return out
}

// The project pinned to old releases of popular ML packages yields exactly
// these findings against the real OSV records.
func TestVulnerableProject(t *testing.T) {
	rep := scanDir(t, "testdata/vulnerable", Options{DB: testDB(t)})
	want := []string{
		"requirements.txt:2 MLS-DEP-001 high torch PYSEC-2022-43015,CVE-2022-45907 fix=1.13.1",
		"requirements.txt:5 MLS-DEP-001 high mlflow PYSEC-2023-252,CVE-2023-6909 fix=2.9.2",
		"requirements.txt:5 MLS-DEP-001 high mlflow PYSEC-2024-51,CVE-2024-4263 fix=2.10.1",
		"requirements.txt:6 MLS-DEP-001 high pillow PYSEC-2023-227,CVE-2023-44271 fix=10.0.0",
		"requirements.txt:7 MLS-DEP-001 high tensorflow PYSEC-2021-420,CVE-2021-41228,GHSA-3rcw-9p9x-582v fix=2.6.1",
		"requirements.txt:9 MLS-DEP-001 high ctx PYSEC-2022-199,GSD-2022-1002521",
	}
	got := summarize(rep)
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Summary.Inconclusive != 0 {
		t.Errorf("inconclusive: %+v", rep.Artifacts)
	}
}

func TestCleanProject(t *testing.T) {
	rep := scanDir(t, "testdata/clean", Options{DB: testDB(t)})
	if got := summarize(rep); len(got) != 0 {
		t.Errorf("clean project has findings:\n%s", strings.Join(got, "\n"))
	}
	if rep.Summary.Complete != 3 || rep.Summary.Inconclusive != 0 {
		t.Errorf("summary = %+v", rep.Summary)
	}
}

func TestNoDatabaseIsInconclusive(t *testing.T) {
	rep := scanDir(t, "testdata/clean", Options{VulnDB: filepath.Join(t.TempDir(), "missing.sqlite")})
	if rep.Summary.Inconclusive != 3 {
		t.Fatalf("summary = %+v", rep.Summary)
	}
	if g := rep.Artifacts[0].Gaps; len(g) != 1 || !strings.Contains(g[0], "mlsec db import") {
		t.Errorf("gaps = %v", g)
	}
}

// Every manifest kind with planted problems gives exactly these findings.
func TestKindsProject(t *testing.T) {
	rep := scanDir(t, "testdata/kinds", Options{DB: testDB(t)})
	want := []string{
		"environment.yml:12 MLS-DEP-002 critical 0requests MAL-2026-15859",
		"environment.yml:12 MLS-DEP-005 high 0requests",
		"environment.yml:13 MLS-DEP-001 high mlflow PYSEC-2023-252,CVE-2023-6909 fix=2.9.2",
		"environment.yml:13 MLS-DEP-001 high mlflow PYSEC-2024-51,CVE-2024-4263 fix=2.10.1",
		"environment.yml:7 MLS-DEP-001 high pytorch PYSEC-2022-43015,CVE-2022-45907 fix=1.13.1",
		"environment.yml:8 MLS-DEP-003 medium numpy",
		"environment.yml:9 MLS-DEP-001 high pillow PYSEC-2023-227,CVE-2023-44271 fix=10.0.0",
		"pyproject.toml:19 MLS-DEP-003 medium pillow PYSEC-2023-227",
		"pyproject.toml:20 MLS-DEP-003 medium numpy",
		"pyproject.toml:23 MLS-DEP-007 critical torchtriton",
		"pyproject.toml:27 MLS-DEP-006 high <nil>",
		"pyproject.toml:34 MLS-DEP-001 high mlflow PYSEC-2023-252,CVE-2023-6909 fix=2.9.2",
		"pyproject.toml:34 MLS-DEP-001 high mlflow PYSEC-2024-51,CVE-2024-4263 fix=2.10.1",
		"pyproject.toml:38 MLS-DEP-008 high <nil>",
		"pyproject.toml:5 MLS-DEP-003 medium transformers",
		"pyproject.toml:6 MLS-DEP-003 medium torch PYSEC-2022-43015",
		"pyproject.toml:7 MLS-DEP-001 high tensorflow PYSEC-2021-420,CVE-2021-41228,GHSA-3rcw-9p9x-582v fix=2.6.1",
		"requirements.txt:1 MLS-DEP-001 high mlflow PYSEC-2023-252,CVE-2023-6909 fix=2.9.2",
		"requirements.txt:1 MLS-DEP-001 high mlflow PYSEC-2024-51,CVE-2024-4263 fix=2.10.1",
		"requirements.txt:1 MLS-DEP-004 medium mlflow",
		"requirements.txt:10 MLS-DEP-004 medium pandsa",
		"requirements.txt:10 MLS-DEP-005 high pandsa",
		"requirements.txt:2 MLS-DEP-003 medium requests",
		"requirements.txt:2 MLS-DEP-004 medium requests",
		"requirements.txt:3 MLS-DEP-006 high <nil>",
		"requirements.txt:6 MLS-DEP-001 high torch PYSEC-2022-43015,CVE-2022-45907 fix=1.13.1",
		"requirements.txt:8 MLS-DEP-004 medium scikit-learn",
		"requirements.txt:9 MLS-DEP-004 medium acme-internal-features",
	}
	got := summarize(rep)
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, ar := range rep.Artifacts {
		for _, f := range ar.Findings {
			if f.RuleID == RuleConfusion.ID && strings.HasSuffix(ar.Artifact.Path, "requirements.txt") &&
				!strings.Contains(f.Evidence.Text, "internal-looking names most at risk: acme-internal-features") {
				t.Errorf("confusion evidence: %s", f.Evidence.Text)
			}
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:s3cret@pkgs.example/simple": "https://***@pkgs.example/simple",
		"https://pkgs.example/simple":             "https://pkgs.example/simple",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q", in, got)
		}
	}
}
