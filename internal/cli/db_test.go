package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestDBImportStatusAndScan(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vulndb.sqlite")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := RunContext(context.Background(), append([]string{"mlsec"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, errs := run("db", "status", "--vulndb", db); code != ExitError || !strings.Contains(errs, "not imported") {
		t.Fatalf("status before import: %d %s", code, errs)
	}
	code, out, errs := run("db", "import", "--vulndb", db, "--format", "json", "../vulndb/testdata/osv")
	if code != ExitClean {
		t.Fatalf("import: %d %s", code, errs)
	}
	var st struct {
		Advisories int `json:"advisories"`
		Malicious  int `json:"malicious"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Advisories != 10 || st.Malicious != 2 {
		t.Fatalf("status = %s (%v)", out, err)
	}
	if code, _, _ := run("db", "status", "--vulndb", db, "--max-age", "1h"); code != ExitClean {
		t.Errorf("fresh database: exit %d", code)
	}
	code, out, errs = run("scan", "--vulndb", db, "--format", "sarif", "../scan/deps/testdata/vulnerable")
	if code != ExitFindings || !strings.Contains(out, "PYSEC-2022-43015") || !strings.Contains(out, "MLS-DEP-001") {
		t.Errorf("scan: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = run("scan", "--vulndb", db, "../scan/deps/testdata/clean")
	if code != ExitClean {
		t.Errorf("clean scan: exit %d %s", code, errs)
	}
}
