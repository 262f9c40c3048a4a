package vulndb

import (
	"archive/zip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/pep440"
)

const fixtures = "testdata/osv"

// jsonFixtures copies the JSON records (not the YAML twins) to a directory.
func jsonFixtures(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(fixtures, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "sub", "vulndb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Import builds a database from the real records in testdata.
func importFixtures(t testing.TB) *DB {
	t.Helper()
	db := openTemp(t)
	if _, err := db.Import(context.Background(), jsonFixtures(t), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestImportDirectoryAndStatus(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	st, err := db.Import(ctx, jsonFixtures(t), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 10 || st.Added != 10 || st.Invalid != 0 {
		t.Fatalf("stats = %+v", st)
	}
	// The YAML originals are the same records: nothing newer.
	st, err = db.Import(ctx, filepath.Join(fixtures, "pypa-advisory-database"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 16 || st.Unchanged != 16 || st.Added != 0 {
		t.Fatalf("re-import stats = %+v", st)
	}
	s, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Advisories != 10 || s.Malicious != 2 || s.Packages != 8 || s.Withdrawn != 0 || s.SchemaVersion != SchemaVersion {
		t.Errorf("status = %+v", s)
	}
	if s.NewestModified.IsZero() || s.ImportedAt.IsZero() || s.SizeBytes == 0 {
		t.Errorf("status ages/size missing: %+v", s)
	}
}

func TestImportZipAndReplace(t *testing.T) {
	ctx := context.Background()
	dir := jsonFixtures(t)
	zpath := filepath.Join(t.TempDir(), "all.zip")
	writeZip(t, zpath, dir, nil)
	db := openTemp(t)
	st, err := db.Import(ctx, zpath, ImportOptions{})
	if err != nil || st.Added != 10 {
		t.Fatalf("import zip: %+v %v", st, err)
	}
	st, err = db.Import(ctx, filepath.Join(dir, "MAL-2026-15859.json"), ImportOptions{Replace: true})
	if err != nil || st.Added != 1 {
		t.Fatalf("replace: %+v %v", st, err)
	}
	s, _ := db.Status(ctx)
	if s.Advisories != 1 {
		t.Errorf("after replace: %d advisories", s.Advisories)
	}
}

func writeZip(t testing.TB, path, dir string, extra map[string][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		w, _ := zw.Create(e.Name())
		w.Write(b)
	}
	for n, b := range extra {
		w, _ := zw.Create(n)
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// A failing import leaves the database as it was.
func TestImportIsTransactional(t *testing.T) {
	ctx := context.Background()
	db := importFixtures(t)
	dir := jsonFixtures(t)
	zpath := filepath.Join(t.TempDir(), "bad.zip")
	writeZip(t, zpath, dir, map[string][]byte{"NEW-1.json": []byte(`{"id":"NEW-1","modified":"2030-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"x"},"versions":["1"]}]}`)})
	// Corrupt the last member's data so its CRC check fails mid-import.
	b, _ := os.ReadFile(zpath)
	i := strings.LastIndex(string(b), `"NEW-1"`)
	b[i+1] = 'X'
	os.WriteFile(zpath, b, 0o644)
	if _, err := db.Import(ctx, zpath, ImportOptions{Replace: true}); err == nil {
		t.Fatal("corrupt zip imported")
	}
	s, _ := db.Status(ctx)
	if s.Advisories != 10 {
		t.Errorf("failed import changed the database: %d advisories", s.Advisories)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Import(cctx, dir, ImportOptions{Replace: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled import: %v", err)
	}
	s, _ = db.Status(ctx)
	if s.Advisories != 10 {
		t.Errorf("cancelled import changed the database: %d advisories", s.Advisories)
	}
}

func TestInvalidRecordsAreCounted(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.json"), []byte(`{not json`), 0o644)
	os.WriteFile(filepath.Join(dir, "b.json"), []byte(`{"modified":"2020-01-01T00:00:00Z"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "c.json"), []byte(`{"id":"GO-1","modified":"2020-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"x"}}]}`), 0o644)
	db := openTemp(t)
	st, err := db.Import(context.Background(), dir, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Invalid != 2 || st.Skipped != 1 || len(st.Errors) != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestOpenReadOnlyMissing(t *testing.T) {
	_, err := OpenReadOnly(context.Background(), filepath.Join(t.TempDir(), "none.sqlite"))
	if !IsNotImported(err) {
		t.Errorf("err = %v, want ErrNotImported", err)
	}
}

func TestMatching(t *testing.T) {
	ctx := context.Background()
	db := importFixtures(t)
	for _, tc := range []struct {
		pkg, version string
		want         []string
	}{
		{"torch", "1.13.0", []string{"PYSEC-2022-43015"}},
		{"torch", "1.13.1", nil},
		{"torch", "2.0.0", nil},
		{"Pillow", "9.0.0", []string{"PYSEC-2023-227"}},
		{"pillow", "8.4.0", []string{"PYSEC-2022-10", "PYSEC-2023-227"}},
		{"pillow", "10.0.0", nil},
		{"mlflow", "2.9.0", []string{"PYSEC-2023-252", "PYSEC-2024-51"}},
		{"mlflow", "2.9.2", []string{"PYSEC-2024-51"}},
		{"tensorflow", "2.4.3", []string{"PYSEC-2021-420"}},
		{"tensorflow", "2.4.4", nil},
		{"tensorflow", "2.5.1", []string{"PYSEC-2021-420"}},
		{"tensorflow", "2.5.2", nil},
		{"tensorflow", "2.7.0rc1", []string{"PYSEC-2021-420"}},
		{"tensorflow", "2.7.0", nil},
		{"ctx", "0.1.2", nil}, // before introduced 0.1.2-1 (= 0.1.2.post1)
		{"ctx", "0.2.6", []string{"PYSEC-2022-199"}},
		{"0requests", "0.0.1", []string{"MAL-2026-15859"}},
		{"0Requests", "0.0.2", nil},
		{"3web_py", "1.0.0", []string{"MAL-2024-9934"}},
		{"numpy", "1.8.0", []string{"PYSEC-2018-34"}},
	} {
		advs, err := db.Lookup(ctx, tc.pkg)
		if err != nil {
			t.Fatal(err)
		}
		v := pep440.MustParse(tc.version)
		var got []string
		for _, a := range advs {
			if a.AffectsVersion(pep440.NormalizeName(tc.pkg), v) {
				got = append(got, a.ID)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s==%s: %v, want %v", tc.pkg, tc.version, got, tc.want)
		}
	}
}

func TestNearestFixAndAllowed(t *testing.T) {
	ctx := context.Background()
	db := importFixtures(t)
	tf, _ := db.Lookup(ctx, "tensorflow")
	for v, want := range map[string]string{"2.5.0": "2.5.2", "2.0.0": "2.4.4", "2.7.0rc0": "2.7.0", "2.8.0": ""} {
		if got := tf[0].NearestFix("tensorflow", pep440.MustParse(v)); got != want {
			t.Errorf("NearestFix(%s) = %q, want %q", v, got, want)
		}
	}
	torch, _ := db.Lookup(ctx, "torch")
	for set, want := range map[string]bool{
		">=1.0": true, ">=1.13.1": false, ">1.13.0": true, "~=1.12": true, "<1.0": true,
		"==1.13.*": true, "==2.*": false, ">=2.0,<3": false, "!=1.13.0,>=1.13": true, "": true,
	} {
		s, err := pep440.ParseSet(set)
		if err != nil {
			t.Fatal(err)
		}
		if _, got := torch[0].AffectedAllowed("torch", s); got != want {
			t.Errorf("torch %q allows an affected version = %v, want %v", set, got, want)
		}
	}
	listed, _ := torch[0].AffectedAllowed("torch", mustSet(">=1.12"))
	if !slices.Equal(listed, []string{"1.12.0", "1.12.1", "1.13.0"}) {
		t.Errorf("listed = %v", listed)
	}
	// last_affected is inclusive.
	r := Range{Type: "ECOSYSTEM", Events: []Event{{Introduced: "1.0"}, {LastAffected: "1.2"}}}
	a := &Advisory{Affected: []Affected{{Ecosystem: EcosystemPyPI, Name: "x", Ranges: []Range{r}}}}
	for v, want := range map[string]bool{"0.9": false, "1.0": true, "1.2": true, "1.2.post1": false, "1.3": false} {
		if got := a.AffectsVersion("x", pep440.MustParse(v)); got != want {
			t.Errorf("last_affected: %s = %v", v, got)
		}
	}
}

func mustSet(s string) pep440.Set {
	set, err := pep440.ParseSet(s)
	if err != nil {
		panic(err)
	}
	return set
}

func TestWithdrawnAndAliases(t *testing.T) {
	ctx := context.Background()
	db := importFixtures(t)
	dir := t.TempDir()
	// A GHSA twin of PYSEC-2022-10 (same CVE) with a CVSS vector, and a
	// withdrawn advisory.
	os.WriteFile(filepath.Join(dir, "GHSA-8vj2-vxx3-667w.json"), []byte(`{"id":"GHSA-8vj2-vxx3-667w","modified":"2024-01-01T00:00:00Z",
		"aliases":["CVE-2022-22817","PYSEC-2022-10"],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
		"affected":[{"package":{"ecosystem":"PyPI","name":"Pillow"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"9.0.0"}]}]}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "GHSA-xxxx-withdrawn.json"), []byte(`{"id":"GHSA-xxxx-xxxx-xxxx","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z",
		"affected":[{"package":{"ecosystem":"PyPI","name":"pillow"},"versions":["8.4.0"]}]}`), 0o644)
	if _, err := db.Import(ctx, dir, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	advs, _ := db.Lookup(ctx, "pillow")
	if len(advs) != 3 {
		t.Fatalf("pillow advisories: %d (withdrawn must be excluded)", len(advs))
	}
	gs := GroupAliases(advs)
	if len(gs) != 2 {
		t.Fatalf("groups = %d", len(gs))
	}
	g := gs[0]
	if g.Primary.ID != "GHSA-8vj2-vxx3-667w" || !slices.Equal(g.IDs, []string{"GHSA-8vj2-vxx3-667w", "CVE-2022-22817", "PYSEC-2022-10"}) {
		t.Errorf("group = %s %v", g.Primary.ID, g.IDs)
	}
	if s := g.Score(); s.Level != Critical || s.Value != 9.8 {
		t.Errorf("group score = %+v", s)
	}
	s, _ := db.Status(ctx)
	if s.Withdrawn != 1 {
		t.Errorf("withdrawn = %d", s.Withdrawn)
	}
}

func TestCVSS(t *testing.T) {
	for _, tc := range []struct {
		vec   string
		score float64
		level Level
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, High},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, Critical},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, High},
		{"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8, Low},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, Medium},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, Critical},
		{"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5, High},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, High},
	} {
		s, err := CVSSScore(tc.vec)
		if err != nil || s != tc.score || Rating(s) != tc.level {
			t.Errorf("%s = %v (%v), %v; want %v %v", tc.vec, s, Rating(s), err, tc.score, tc.level)
		}
	}
	if _, err := CVSSScore("CVSS:3.1/AV:X"); err == nil {
		t.Error("bad vector accepted")
	}
	// mlflow's PYSEC-2023-252 carries a v3.1 vector: 7.5, high.
	b, _ := os.ReadFile(filepath.Join(fixtures, "pypa-advisory-database/mlflow/PYSEC-2023-252.json"))
	a, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Score(); s.Level != High || s.Value != 7.5 {
		t.Errorf("PYSEC-2023-252 score = %+v", s)
	}
}

func FuzzParseRecord(f *testing.F) {
	filepath.WalkDir(fixtures, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseRecord(b)
		if err != nil {
			return
		}
		_ = a.Score()
		for _, af := range a.Affected {
			v := pep440.MustParse("1.0")
			_ = a.AffectsVersion(af.Name, v)
			_ = a.NearestFix(af.Name, v)
			_, _ = a.AffectedAllowed(af.Name, mustSet(">=0.5,!=1.1.*"))
		}
		if _, err := yamlToJSON(b); err != nil {
			return
		}
	})
}
