package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBOMCommand(t *testing.T) {
	fx := filepath.Join("..", "bom", "testdata")
	out := filepath.Join(t.TempDir(), "m.cdx.json")
	env := map[string]string{"SOURCE_DATE_EPOCH": "1767225600"}
	code, _, stderr := run(t, env, "bom", "--reproducible", "--no-scan", "-o", out, filepath.Join(fx, "hf-textclf"))
	if code != ExitClean {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), `"specVersion": "1.6"`) || !strings.Contains(string(data), `"type": "machine-learning-model"`) {
		t.Errorf("not a CycloneDX 1.6 ML-BOM:\n%.400s", data)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bom", "--format", "spdx3-json", "--no-scan", filepath.Join(fx, "onnx-mlp")}, ExitClean, `"ai_AIPackage"`},
		{[]string{"bom", "--format", "cyclonedx-xml", "--no-scan", filepath.Join(fx, "onnx-mlp")}, ExitClean, `<bom xmlns="http://cyclonedx.org/schema/bom/1.6"`},
		{[]string{"bom", "--format", "table", filepath.Join(fx, "onnx-mlp")}, ExitError, ""},
		{[]string{"bom", filepath.Join(fx, "missing")}, ExitError, ""},
		// Findings go in the BOM; they gate only when --fail-on is given.
		{[]string{"bom", filepath.Join(fx, "project")}, ExitClean, `"MLS-PKL-001"`},
		{[]string{"bom", "--fail-on", "high", filepath.Join(fx, "project")}, ExitFindings, `"vulnerabilities"`},
		{[]string{"bom", "diff", "--no-scan", out, filepath.Join(fx, "hf-textclf")}, ExitClean, "no differences"},
		{[]string{"bom", "diff", "--exit-code", "--format", "json", out, filepath.Join(fx, "gguf-chat")}, ExitFindings, `"category": "weights"`},
	} {
		code, stdout, stderr := run(t, env, c.args...)
		if code != c.code || !strings.Contains(stdout, c.want) {
			t.Errorf("%v: exit %d (want %d), stdout %.300q, stderr %q", c.args, code, c.code, stdout, stderr)
		}
	}
}
