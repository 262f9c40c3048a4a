package vulndb

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/pep440"
)

// syntheticExport writes a zip shaped like osv.dev's PyPI all.zip: n
// advisories over n/4 packages, each with aliases, details, an ECOSYSTEM
// range and an explicit versions list of 10-120 entries (PyPI's records
// average about 40), a quarter with a CVSS vector.
func syntheticExport(tb testing.TB, dir string, n int) string {
	tb.Helper()
	path := filepath.Join(dir, fmt.Sprintf("all-%d.zip", n))
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	zw := zip.NewWriter(f)
	rng := rand.New(rand.NewPCG(1, 2))
	details := strings.Repeat("A crafted input to the affected function lets a remote attacker cause a denial of service. ", 6)
	for i := range n {
		pkg := fmt.Sprintf("package-%d", i%(n/4))
		nv := 10 + rng.IntN(110)
		versions := make([]string, nv)
		for j := range nv {
			versions[j] = fmt.Sprintf("%d.%d.%d", j/20, (j/5)%4, j%5)
		}
		fixed := fmt.Sprintf("%d.%d.%d", nv/20, (nv/5)%4, nv%5)
		rec := map[string]any{
			"schema_version": "1.6.0",
			"id":             fmt.Sprintf("PYSEC-2024-%d", i),
			"modified":       "2024-06-01T12:00:00Z",
			"published":      "2024-05-01T12:00:00Z",
			"aliases":        []string{fmt.Sprintf("CVE-2024-%d", 10000+i), fmt.Sprintf("GHSA-%04x-%04x-%04x", i, i*7%65536, i*13%65536)},
			"details":        details,
			"affected": []any{map[string]any{
				"package":  map[string]any{"ecosystem": "PyPI", "name": pkg, "purl": "pkg:pypi/" + pkg},
				"ranges":   []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]string{"introduced": "0"}, map[string]string{"fixed": fixed}}}},
				"versions": versions,
			}},
			"references": []any{map[string]string{"type": "WEB", "url": "https://example.org/advisory/" + pkg}},
		}
		if i%4 == 0 {
			rec["severity"] = []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}}
		}
		b, _ := json.Marshal(rec)
		w, err := zw.Create(rec["id"].(string) + ".json")
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return path
}

// BenchmarkImport imports a synthetic PyPI export of 18,000 advisories
// (the size of osv.dev's PyPI all.zip) into a fresh database.
func BenchmarkImport(b *testing.B) {
	dir := b.TempDir()
	zpath := syntheticExport(b, dir, 18000)
	zi, _ := os.Stat(zpath)
	b.ReportMetric(float64(zi.Size())/(1<<20), "zip-MiB")
	ctx := context.Background()
	var size int64
	for i := 0; b.Loop(); i++ {
		db, err := Open(ctx, filepath.Join(dir, fmt.Sprintf("db-%d.sqlite", i)))
		if err != nil {
			b.Fatal(err)
		}
		st, err := db.Import(ctx, zpath, ImportOptions{})
		if err != nil || st.Added != 18000 {
			b.Fatalf("%+v %v", st, err)
		}
		db.Close()
		fi, _ := os.Stat(db.Path())
		size = fi.Size()
	}
	b.ReportMetric(float64(size)/(1<<20), "db-MiB")
}

// BenchmarkLookup is one package's lookup and match in the 18,000-advisory
// database (a package with four advisories).
func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	zpath := syntheticExport(b, dir, 18000)
	ctx := context.Background()
	w, err := Open(ctx, filepath.Join(dir, "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Import(ctx, zpath, ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	w.Close()
	db, err := OpenReadOnly(ctx, filepath.Join(dir, "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	v := pep440.MustParse("1.2.3")
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("package-%d", i%4500)
		advs, err := db.Lookup(ctx, name)
		if err != nil || len(advs) != 4 {
			b.Fatalf("%d %v", len(advs), err)
		}
		for _, a := range advs {
			a.AffectsVersion(name, v)
		}
	}
}
