package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

// run executes the whole CLI in-process.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for k, v := range env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		defer func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		}()
	}
	var out, errb bytes.Buffer
	code = RunContext(context.Background(), append([]string{"mlsec"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// volatile matches the parts of reports that change run to run.
var volatile = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`"(started_at|startTimeUtc|endTimeUtc)": "[^"]*"`), `"$1": "<time>"`},
	{regexp.MustCompile(`"(duration_ms)": [0-9]+`), `"$1": 0`},
	{regexp.MustCompile(`"version": "[^"]*"`), `"version": "<version>"`},
	{regexp.MustCompile(`in [0-9.]+(ms|s|µs)`), `in <dur>`},
}

func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.repl)
	}
	return s
}

// golden compares normalised output with testdata/golden/name; go test
// -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	reporttest.Golden(t, filepath.Join("golden", name), []byte(normalize(got)))
}

const (
	malicious = "testdata/corpus/pickle/os_system_p0.pkl"
	benign    = "testdata/corpus/benign/sklearn_logreg.pkl"
	invalid   = "testdata/corpus/invalid/random_bytes.pkl"
)

func TestScanExitCodesAndFormats(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string // compared after normalisation, when set
		stderr string // substring expected on stderr
	}{
		{"malicious table", []string{"scan", "--no-color", malicious}, ExitFindings, "malicious.table", ""},
		{"malicious json", []string{"scan", "--format", "json", malicious}, ExitFindings, "malicious.json", ""},
		{"malicious sarif", []string{"scan", "--format", "sarif", malicious}, ExitFindings, "malicious.sarif", ""},
		{"benign table", []string{"scan", "--no-color", benign}, ExitClean, "benign.table", ""},
		{"benign json", []string{"scan", "--format", "json", benign}, ExitClean, "benign.json", ""},
		{"inconclusive table", []string{"scan", "--no-color", invalid}, ExitInconclusive, "inconclusive.table", ""},
		{"inconclusive sarif", []string{"scan", "--format", "sarif", invalid}, ExitInconclusive, "inconclusive.sarif", ""},
		{"fail-on none", []string{"scan", "--fail-on", "none", "--format", "json", malicious}, ExitClean, "", ""},
		{"fail-on none still inconclusive", []string{"scan", "--fail-on", "none", invalid}, ExitInconclusive, "", ""},
		{"findings beat inconclusive", []string{"scan", "-q", malicious, invalid}, ExitFindings, "", ""},
		{"bad flag", []string{"scan", "--bogus", malicious}, ExitError, "", "unknown flag: --bogus"},
		{"bad format", []string{"scan", "--format", "xml", malicious}, ExitError, "", `unknown --format "xml"`},
		{"bad fail-on", []string{"scan", "--fail-on", "severe", malicious}, ExitError, "", `unknown --fail-on "severe"`},
		{"no args", []string{"scan"}, ExitError, "", "requires at least 1 arg"},
		{"unreadable path", []string{"scan", "testdata/does-not-exist.pkl"}, ExitError, "", "cannot read testdata/does-not-exist.pkl: no such file or directory"},
		{"unknown command", []string{"scna"}, ExitError, "", "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, nil, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errs)
			}
			if tt.golden != "" {
				golden(t, tt.golden, out)
			}
			validateOutput(t, tt.args, out)
			if tt.stderr != "" && !strings.Contains(errs, tt.stderr) {
				t.Errorf("stderr %q lacks %q", errs, tt.stderr)
			}
			if code == ExitError {
				if lines := strings.Split(strings.TrimSpace(errs), "\n"); !strings.HasPrefix(lines[0], "mlsec: error: ") || len(lines) > 2 {
					t.Errorf("error output should be one clear line (plus a usage hint):\n%s", errs)
				}
				if strings.Contains(errs, "goroutine") {
					t.Errorf("stack trace on stderr:\n%s", errs)
				}
			}
		})
	}
}

// validateOutput checks JSON and SARIF output against their schemas.
func validateOutput(t *testing.T, args []string, out string) {
	t.Helper()
	schema := ""
	for i, a := range args {
		if a == "--format" && i+1 < len(args) {
			switch args[i+1] {
			case "json":
				schema = "../../schema/report.schema.json"
			case "sarif":
				schema = "../report/sarif/testdata/sarif-schema-2.1.0.json"
			}
		}
	}
	if schema == "" || out == "" {
		return
	}
	if err := reporttest.Validate(reporttest.Schema(t, schema), []byte(out)); err != nil {
		t.Errorf("output does not validate against %s: %v", schema, err)
	}
}

func TestOutputFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, _ := run(t, nil, "scan", "--format", "json", "-o", out, malicious)
	if code != ExitFindings || stdout != "" {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("report file is not JSON: %v", err)
	}
	code, _, errs := run(t, nil, "scan", "-o", filepath.Join(t.TempDir(), "no", "such", "dir.json"), malicious)
	if code != ExitError || !strings.Contains(errs, "write ") {
		t.Errorf("unwritable output: exit %d, %q", code, errs)
	}
}

// TestConfigPrecedence checks flags > MLSEC_* environment > config file > defaults.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mlsec.yaml")
	os.WriteFile(cfg, []byte("fail-on: none\nformat: json\n"), 0o644)
	abs, _ := filepath.Abs(malicious)

	// config: fail-on none → exit 0, and JSON output.
	code, out, _ := run(t, nil, "--config", cfg, "scan", abs)
	if code != ExitClean || !strings.HasPrefix(out, "{") {
		t.Errorf("config: exit %d, output %.40q", code, out)
	}
	// environment beats config.
	code, _, _ = run(t, map[string]string{"MLSEC_FAIL_ON": "critical"}, "--config", cfg, "scan", abs)
	if code != ExitFindings {
		t.Errorf("env over config: exit %d", code)
	}
	// flag beats environment.
	code, _, _ = run(t, map[string]string{"MLSEC_FAIL_ON": "critical"}, "--config", cfg, "scan", "--fail-on", "none", abs)
	if code != ExitClean {
		t.Errorf("flag over env: exit %d", code)
	}
	// scan section and lists.
	custom, _ := filepath.Abs("testdata/custom_global.pkl")
	os.WriteFile(cfg, []byte("fail-on: medium\n"), 0o644)
	if code, _, _ := run(t, nil, "--config", cfg, "scan", "-q", custom); code != ExitFindings {
		t.Errorf("unaudited global at fail-on medium: exit %d", code)
	}
	os.WriteFile(cfg, []byte("fail-on: medium\nscan:\n  safe-global: [other.thing, mycompany.models.*]\n"), 0o644)
	code, _, errs := run(t, nil, "--config", cfg, "scan", "-q", custom)
	if code != ExitClean {
		t.Errorf("allow-listed global via config: exit %d %s", code, errs)
	}
	// bad values are usage errors naming their source.
	code, _, errs = run(t, map[string]string{"MLSEC_FORMAT": "xml"}, "scan", abs)
	if code != ExitError || !strings.Contains(errs, "xml") {
		t.Errorf("bad env: exit %d %q", code, errs)
	}
	os.WriteFile(cfg, []byte("fail-on: [\n"), 0o644)
	code, _, errs = run(t, nil, "--config", cfg, "scan", abs)
	if code != ExitError || !strings.Contains(errs, "config") {
		t.Errorf("bad config: exit %d %q", code, errs)
	}
	code, _, errs = run(t, nil, "--config", filepath.Join(dir, "missing.yaml"), "scan", abs)
	if code != ExitError || !strings.Contains(errs, "missing.yaml") {
		t.Errorf("missing config: exit %d %q", code, errs)
	}
	// mlsec.yaml in the working directory is found without --config.
	t.Chdir(dir)
	os.WriteFile(cfg, []byte("fail-on: none\n"), 0o644)
	code, _, errs = run(t, nil, "scan", "-q", abs)
	if code != ExitClean {
		t.Errorf("working-directory config: exit %d %s", code, errs)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "mlsec ") || !strings.Contains(out, "commit: ") {
		t.Errorf("version: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "version", "--format", "json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.GoVersion == "" {
		t.Errorf("version json: %d %q", code, out)
	}
}

func TestRules(t *testing.T) {
	code, out, _ := run(t, nil, "rules")
	if code != 0 || !strings.Contains(out, "MLS-PKL-001") || !strings.HasPrefix(out, "ID") {
		t.Errorf("rules: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "rules", "explain", "mls-pkl-001")
	if code != 0 || !strings.Contains(out, "CWE-502") || !strings.Contains(out, "Remediation") {
		t.Errorf("explain: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "rules", "--format", "json")
	var rules []ruleJSON
	if code != 0 || json.Unmarshal([]byte(out), &rules) != nil || len(rules) < 5 {
		t.Errorf("rules json: %d %.100q", code, out)
	}
	code, _, errs := run(t, nil, "rules", "explain", "MLS-NOPE-999")
	if code != ExitError || !strings.Contains(errs, "no rule") {
		t.Errorf("unknown rule: %d %q", code, errs)
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, _ := run(t, nil, "completion", sh)
		if code != 0 || !strings.Contains(out, "mlsec") {
			t.Errorf("completion %s: %d", sh, code)
		}
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := run(t, nil, "scan", "--help")
	if code != 0 || !strings.Contains(out, "--fail-on") || !strings.Contains(out, "inconclusive") {
		t.Errorf("help: %d %q", code, out)
	}
}

// TestMain isolates the tests from the user's config and MLSEC_* settings.
func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "mlsec-cli-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", tmp)
	os.Setenv("HOME", tmp)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MLSEC_") && !strings.HasPrefix(k, "MLSEC_BENCH_") {
			os.Unsetenv(k)
		}
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

func TestInspect(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string
		want   string
	}{
		{"pickle", []string{"inspect", "testdata/corpus/pickle/operator_attrgetter_p4.pkl"}, ExitFindings, "inspect_attrgetter.txt", "# UNSAFE: MLS-PKL-001"},
		{"torch zip", []string{"inspect", "--no-listing", "testdata/corpus/pytorch/mal_injected_state_dict.pt"}, ExitFindings, "inspect_torch.txt", "system('true')"},
		{"benign", []string{"inspect", "--no-listing", benign}, ExitClean, "", "LogisticRegression"},
		{"json", []string{"inspect", "--format", "json", "--no-listing", malicious}, ExitFindings, "", `"rule_id": "MLS-PKL-001"`},
		{"member", []string{"inspect", "--member", "archive/nope.pkl", "testdata/corpus/pytorch/pytorch_model.bin"}, ExitError, "", ""},
		{"not a pickle", []string{"inspect", "testdata/corpus/gguf/benign_tiny.gguf"}, ExitError, "", ""},
		{"missing", []string{"inspect", "testdata/nope.pkl"}, ExitError, "", ""},
		{"fail-on none", []string{"inspect", "--fail-on", "none", malicious}, ExitClean, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, nil, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			if tt.golden != "" {
				golden(t, tt.golden, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestRulesDoc keeps docs/rules.md (where rule help URIs point) in step with
// the catalogue; go test -update rewrites it.
func TestRulesDoc(t *testing.T) {
	code, out, _ := run(t, nil, "rules", "--markdown")
	if code != 0 || !strings.Contains(out, "## MLS-PKL-001") {
		t.Fatalf("rules --markdown: %d", code)
	}
	// The binary's catalogue: leave out rules that only tests register.
	var rules []*finding.Rule
	for _, r := range finding.Rules() {
		if !strings.HasPrefix(r.ID, "MLS-TEST-") {
			rules = append(rules, r)
		}
	}
	var b bytes.Buffer
	if err := rulesMarkdown(&b, rules); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "../../../docs/rules.md", b.Bytes())
}
