package pickle

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

func analyzeFile(t *testing.T, path string, opts Options) *Analysis {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := AnalyzeBytes(context.Background(), b, opts)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

func issuesText(a *Analysis) string {
	var b strings.Builder
	for _, is := range a.Issues {
		b.WriteString(is.Severity.String() + " " + is.RuleID + " " + is.Title + " | " + is.Evidence + "\n")
	}
	for _, g := range a.Gaps {
		b.WriteString("gap: " + g + "\n")
	}
	return b.String()
}

func head(b []byte) []byte { return b[:min(len(b), scan.HeadSize)] }

// TestCorpus checks the shared sample corpus (copied into testdata/corpus)
// against its manifest: malicious -> critical or high; benign -> nothing
// at all; invalid -> not matched or inconclusive.
func TestCorpus(t *testing.T) {
	raw, err := os.ReadFile("testdata/corpus/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		File, Verdict, Technique string
		Grey                     bool
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Run(e.File, func(t *testing.T) {
			path := filepath.Join("testdata/corpus", e.File)
			b, _ := os.ReadFile(path)
			a := analyzeFile(t, path, Options{})
			matched := LooksLikePickle(head(b), int64(len(b)))
			sev, any := a.Highest()
			switch {
			case e.Grey:
				// cloudpickle lambda by value: code by value is flagged high
				// (MLS-PKL-003) even though it is not called at load time.
				if !any || sev != finding.High {
					t.Errorf("grey %s: want a high finding, got\n%s", e.Technique, issuesText(a))
				}
			case e.Verdict == "malicious":
				if !matched {
					t.Errorf("malicious file not detected as pickle")
				}
				if !any || sev < finding.High {
					t.Errorf("malicious %s: want critical/high, got\n%s", e.Technique, issuesText(a))
				}
			case e.Verdict == "benign":
				if !matched {
					t.Errorf("benign pickle not detected as pickle")
				}
				if len(a.Issues) > 0 || len(a.Gaps) > 0 {
					t.Errorf("benign %s: want nothing, got\n%s", e.Technique, issuesText(a))
				}
			case e.Verdict == "invalid":
				if matched && a.Complete() {
					t.Errorf("invalid file matched and reported complete")
				}
			}
		})
	}
}

// TestBenignFixtures: real pickles made by the real libraries must give no
// finding and no gap.
func TestBenignFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/benign/*")
	if len(files) < 30 {
		t.Fatalf("only %d benign fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, _ := os.ReadFile(f)
			if !LooksLikePickle(head(b), int64(len(b))) {
				t.Errorf("not detected as pickle")
			}
			a := analyzeFile(t, f, Options{Strict: true})
			if len(a.Issues) > 0 || len(a.Gaps) > 0 {
				t.Errorf("want clean, got\n%s", issuesText(a))
			}
			want := "pickle"
			switch {
			case strings.HasSuffix(f, ".joblib"):
				want = "joblib"
			case strings.HasSuffix(f, ".pt"):
				want = "pytorch-legacy"
			case strings.Contains(f, "dill_"):
				want = "dill"
			case strings.Contains(f, "cloudpickle_"):
				want = "pickle" // plain data: no cloudpickle globals
			}
			if a.Format != want && !(want == "joblib" && a.Format == "pickle") {
				t.Errorf("format %q, want %q", a.Format, want)
			}
		})
	}
}

// TestMaliciousFixtures checks each technique's verdict, rule and evidence.
func TestMaliciousFixtures(t *testing.T) {
	cases := []struct {
		file     string
		rule     string
		sev      finding.Severity
		evidence string // substring of some issue's evidence
		gap      bool
	}{
		{"posix_system_p1.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
		{"posix_system_p2.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
		{"posix_system_p5.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
		{"model.txt", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
		{"inst_p0.pkl", "MLS-PKL-001", finding.Critical, "os.system('true')", false},
		{"obj_p1_system.pkl", "MLS-PKL-001", finding.Critical, "os.system('true')", false},
		{"builtin_py2_eval_p0.pkl", "MLS-PKL-001", finding.Critical, "__builtin__.eval('1+1')", false},
		{"unicode_escape_p0.pkl", "MLS-PKL-001", finding.Critical, "os.system('true')", false},
		{"long_text_args_p0.pkl", "MLS-PKL-001", finding.Critical, "subprocess.call(['true', True, 5])", false},
		{"commands_py2_p0.pkl", "MLS-PKL-001", finding.Critical, "commands.getoutput('true')", false},
		{"stack_global_dotted_torch_hub.pkl", "MLS-PKL-001", finding.Critical, "torch.hub.load('x/y', 'm')", false},
		{"stack_global_module_attr_os.pkl", "MLS-PKL-001", finding.Critical, "torch.nn.modules.module.os.system('true')", false},
		{"stack_global_computed_module.pkl", "MLS-PKL-004", finding.High, "STACK_GLOBAL(_codecs.encode('bf', 'rot13'), 'flfgrz')", false},
		{"memo_long_binput.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
		{"memo_text_put_get.pkl", "MLS-PKL-001", finding.Critical, "os.system('true')", false},
		{"newobj_popen.pkl", "MLS-PKL-001", finding.Critical, "subprocess.Popen.__new__(subprocess.Popen, 'true')", false},
		{"newobj_ex_popen.pkl", "MLS-PKL-001", finding.Critical, "subprocess.Popen", false},
		{"build_setstate_global.pkl", "MLS-PKL-005", finding.High, "collections.OrderedDict.__setstate__((None, {'foo': 1}))", false},
		{"build_setattr_dangerous.pkl", "MLS-PKL-001", finding.Critical, "os.system", false},
		{"nested_pickle_loads.pkl", "MLS-PKL-001", finding.Critical, "] posix.system('true')", false},
		{"getattr_import_chain.pkl", "MLS-PKL-001", finding.Critical, "builtins.getattr(builtins.__import__('os'), 'system')('true')", false},
		{"getattr_safe_target_string.pkl", "MLS-PKL-001", finding.Critical, "builtins.getattr(collections.OrderedDict, 'system')", false},
		{"partial_call.pkl", "MLS-PKL-001", finding.Critical, "functools.partial(os.system, 'true')()", false},
		{"functools_partial_os_system.pkl", "MLS-PKL-001", finding.Critical, "posix.system", false},
		{"call_of_call_result.pkl", "MLS-PKL-001", finding.Critical, "myhelpers.factory()()", false},
		{"methodcaller.pkl", "MLS-PKL-001", finding.Critical, "operator.methodcaller('system', 'true')(os.getcwd())", false},
		{"ext1_code.pkl", "MLS-PKL-004", finding.High, "EXT1 1", false},
		{"ext2_code.pkl", "MLS-PKL-004", finding.High, "EXT2 513", false},
		{"numpy_runstring.pkl", "MLS-PKL-001", finding.Critical, "numpy.testing._private.utils.runstring('pass', {})", false},
		{"asyncio_subprocess.pkl", "MLS-PKL-001", finding.Critical, "create_subprocess_shell('true')", false},
		{"webbrowser_open.pkl", "MLS-PKL-001", finding.Critical, "webbrowser.open(", false},
		{"timeit.pkl", "MLS-PKL-001", finding.Critical, "timeit.timeit('pass')", false},
		{"pty_spawn.pkl", "MLS-PKL-001", finding.Critical, "pty.spawn('true')", false},
		{"bdb_run.pkl", "MLS-PKL-001", finding.Critical, "bdb.Bdb()", false},
		{"types_codetype.pkl", "MLS-PKL-001", finding.Critical, "types.CodeType(", false},
		{"torch_load_nested.pkl", "MLS-PKL-001", finding.Critical, "torch.load('/dev/null')", false},
		{"dill_import_module.pkl", "MLS-PKL-001", finding.Critical, "dill._dill._import_module('os')", false},
		{"benign_then_malicious.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
		{"nullifai_broken_after_payload.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", true},
		{"stack_underflow_after_payload.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", true},
		{"payload_then_junk.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", true},
		{"no_stop_p0.pkl", "MLS-PKL-001", finding.Critical, "os.system('true')", true},
		{"joblib_payload_after_arrays.joblib", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
		{"joblib_object_array_payload.joblib", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
		{"torch_state_dict_injected.pkl", "MLS-PKL-001", finding.Critical, "posix.system('true')", false},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.file] = true
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata/malicious", c.file)
			b, _ := os.ReadFile(path)
			if !LooksLikePickle(head(b), int64(len(b))) {
				t.Errorf("not detected as pickle")
			}
			a := analyzeFile(t, path, Options{})
			ok := false
			for _, is := range a.Issues {
				if is.RuleID == c.rule && is.Severity == c.sev && strings.Contains(is.Evidence, c.evidence) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("want %s %s with evidence %q, got\n%s", c.sev, c.rule, c.evidence, issuesText(a))
			}
			if c.gap == a.Complete() {
				t.Errorf("gap: want %v, got %v", c.gap, a.Gaps)
			}
		})
	}
	files, _ := filepath.Glob("testdata/malicious/*")
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			a := analyzeFile(t, f, Options{})
			if sev, any := a.Highest(); !any || sev < finding.High {
				t.Errorf("%s: no critical/high finding:\n%s", f, issuesText(a))
			}
		}
	}
}

// TestGreyCodeByValue documents the policy for functions pickled by value
// (cloudpickle/dill): high, MLS-PKL-003, even when nothing calls them at
// load; a dill lambda that is also called at load is critical.
func TestGreyCodeByValue(t *testing.T) {
	for _, f := range []string{"testdata/grey/cloudpickle_function.pkl", "testdata/grey/dill_function.pkl", "testdata/corpus/cloudpickle__lambda_by_value.pkl"} {
		a := analyzeFile(t, f, Options{})
		sev, _ := a.Highest()
		if sev != finding.High || a.Issues[0].RuleID != "MLS-PKL-003" {
			t.Errorf("%s: want high MLS-PKL-003 first, got\n%s", f, issuesText(a))
		}
	}
	a := analyzeFile(t, "testdata/corpus/dill__exec_lambda_at_load.pkl", Options{})
	if sev, _ := a.Highest(); sev != finding.Critical {
		t.Errorf("dill lambda called at load: want critical, got\n%s", issuesText(a))
	}
	if a.Format != "dill" {
		t.Errorf("format %q, want dill", a.Format)
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		name string
		data string
		want bool
	}{
		{"readme", "# mlsec\n\nScan models before you load them.\n", false},
		{"json", `{"a": [1, 2, 3], "b": "c"}`, false},
		{"json-array", `[{"a": 1}]`, false},
		{"csv", "a,b,c\n1,2,3\n", false},
		{"csv-num", "1,2,3\n4,5,6\n", false},
		{"python", "import os\n\nclass Foo:\n    pass\n", false},
		{"python-from", "from os import system\n", false},
		{"yaml", "model:\n  name: x\n  layers: 3\n", false},
		{"yaml-doc", "---\nkey: value\n", false},
		{"text-V", "Version 1.0\nThis is a release.\n", false},
		{"text-c", "cat\ndog\nbird and fish\n", false},
		{"text-S", "Some text here\n", false},
		{"text-NB", "N.B. read the manual first\n", false},
		{"p0-none-alone", "N.", true},
		{"ini", "[section]\nkey=value\n", false},
		{"empty", "", false},
		{"one", "N", false},
		{"zip", "PK\x03\x04\x14\x00\x00\x00", false},
		{"npy", "\x93NUMPY\x01\x00v\x00{'descr': '<f8'}", false},
		{"proto-garbage", "\x80\x04\xff\xff\xff\xff", false},
		{"proto-bad-version", "\x80\x09N.", false},
		{"p0-dict", "(dp0\nVa\np1\nI1\ns.", true},
		{"p0-global", "cos\nsystem\n(S'true'\ntR.", true},
		{"p0-str", "S'hello'\np0\n.", true},
		{"p2-none", "\x80\x02N.", true},
		{"p4-frame", "\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.", true},
		{"p1-list", "]q\x00(K\x01K\x02e.", true},
		{"nullifai-p0", "cos\nsystem\n(S'true'\ntR\xff\xff", true},
	}
	for _, c := range cases {
		if got := LooksLikePickle([]byte(c.data), int64(len(c.data))); got != c.want {
			t.Errorf("%s: LooksLikePickle = %v, want %v", c.name, got, c.want)
		}
	}
	s := New(Options{})
	if !s.Match(scan.FileInfo{Name: "notes.txt", Size: 21, Head: []byte("cos\nsystem\n(Vtrue\ntR.")}) {
		t.Error("a .txt pickle must match")
	}
	if s.Name() != "pickle" {
		t.Error("name")
	}
}

// TestDecodeArgs covers the text and binary argument encodings.
func TestDecodeArgs(t *testing.T) {
	cases := []struct {
		name string
		data string
		want string // describe() of the STOP value
	}{
		{"int-text", "I42\n.", "42"},
		{"int-true", "I01\n.", "True"},
		{"int-false", "I00\n.", "False"},
		{"int-big", "I123456789012345678901234567890\n.", "123456789012345678901234567890"},
		{"int-neg", "I-7\n.", "-7"},
		{"long-text", "L12345678901234567890L\n.", "12345678901234567890"},
		{"float-text", "F1.5\n.", "1.5"},
		{"float-inf", "Finf\n.", "float('inf')"},
		{"binfloat", "G?\xf8\x00\x00\x00\x00\x00\x00.", "1.5"},
		{"binint", "J\xff\xff\xff\xff.", "-1"},
		{"binint1", "K\xff.", "255"},
		{"binint2", "M\x01\x02.", "513"},
		{"long1-neg", "\x80\x02\x8a\x01\xff.", "-1"},
		{"long1-zero", "\x80\x02\x8a\x00.", "0"},
		{"long1-big", "\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", "18446744073709551616"},
		{"long4", "\x80\x02\x8b\x02\x00\x00\x00\x00\x80.", "-32768"},
		{"string-single", "S'it\\'s'\n.", `"it's"`},
		{"string-double", "S\"a\\nb\"\n.", `'a\nb'`},
		{"string-hex", "S'\\x41\\101'\n.", `'AA'`},
		{"unicode-escape", "V\\u0041\\U0001F600x\n.", "'A😀x'"},
		{"unicode-latin1", "Vcaf\xe9\n.", "'café'"},
		{"binstring", "T\x02\x00\x00\x00ab.", "'ab'"},
		{"short-binstring", "U\x02ab.", "'ab'"},
		{"binunicode", "X\x02\x00\x00\x00ab.", "'ab'"},
		{"binunicode8", "\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00ab.", "'ab'"},
		{"short-binunicode", "\x80\x04\x8c\x02ab.", "'ab'"},
		{"binbytes", "\x80\x03B\x01\x00\x00\x00\x00.", `b'\x00'`},
		{"short-binbytes", "\x80\x03C\x01z.", "b'z'"},
		{"binbytes8", "\x80\x04\x8e\x01\x00\x00\x00\x00\x00\x00\x00z.", "b'z'"},
		{"bytearray8", "\x80\x05\x96\x01\x00\x00\x00\x00\x00\x00\x00z.", "bytearray(b'z')"},
		{"none-bools", "\x80\x02N\x88\x89\x87.", "(None, True, False)"},
		{"tuples", "\x80\x02)K\x01\x85K\x01K\x02\x86\x87.", "((), (1,), (1, 2))"},
		{"tuple-mark", "(K\x01K\x02t.", "(1, 2)"},
		{"list", "(K\x01l.", "[1]"},
		{"appends", "](K\x01K\x02e.", "[1, 2]"},
		{"append", "]K\x01a.", "[1]"},
		{"dict", "(K\x01K\x02d.", "{1: 2}"},
		{"setitems", "}(K\x01K\x02u.", "{1: 2}"},
		{"setitem", "}K\x01K\x02s.", "{1: 2}"},
		{"set", "\x80\x04\x8f(K\x01\x90.", "{1}"},
		{"frozenset", "\x80\x04(K\x01\x91.", "frozenset({1})"},
		{"dup-pop", "K\x01K\x022\x30\x86.", "(1, 2)"},
		{"pop-mark", "K\x01(K\x02K\x031.", "1"},
		{"memo", "K\x07p3\n0g3\n.", "7"},
		{"binput", "K\x07q\x03h\x03\x86.", "(7, 7)"},
		{"memoize", "\x80\x04K\x07\x94h\x00\x86.", "(7, 7)"},
		{"long-binput", "K\x07r\x00\x00\x01\x00j\x00\x00\x01\x00\x86.", "(7, 7)"},
		{"persid", "Pstorage0\n.", "persistent_load('storage0')"},
		{"binpersid", "\x80\x02K\x01Q.", "persistent_load(1)"},
		{"next-buffer", "\x80\x05\x97\x98.", "<out-of-band buffer>"},
		{"frame", "\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N.", "None"},
		{"reduce-safe", "\x80\x02c__builtin__\nset\n]\x85R.", "__builtin__.set([])"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := AnalyzeBytes(context.Background(), []byte(c.data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Gaps) > 0 || len(a.Pickles) != 1 {
				t.Fatalf("gaps %v, %d pickles", a.Gaps, len(a.Pickles))
			}
			if got := describe(a.Pickles[0].Result); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestMalformed: every malformed stream is a gap, never a panic or a
// clean result.
func TestMalformed(t *testing.T) {
	cases := map[string]string{
		"invalid-opcode":   "\xff",
		"truncated-arg":    "\x80\x02X\x05\x00\x00\x00ab",
		"huge-length":      "\x80\x04\x8e\xff\xff\xff\xff\x00\x00\x00\x00ab",
		"huge-length-max":  "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xffab",
		"negative-length":  "T\xff\xff\xff\xff.",
		"underflow":        "R.",
		"missing-memo":     "h\x05.",
		"no-mark":          "t.",
		"obj-empty":        "(o.",
		"unquoted-string":  "Sabc\n.",
		"bad-int":          "Iabc\n.",
		"bad-float":        "Fx\n.",
		"bad-memo-index":   "g-1\n.",
		"stack-global-int": "\x80\x04K\x01K\x02\x93.",
		"put-empty":        "p0\n.",
		"stop-empty":       ".",
		"long4-negative":   "\x80\x02\x8b\xff\xff\xff\xff.",
		"only-proto":       "\x80\x02",
		"empty":            "",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			a, err := AnalyzeBytes(context.Background(), []byte(data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Complete() {
				t.Errorf("malformed stream reported complete")
			}
		})
	}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	deep := strings.Repeat("(", 100) + "."
	a, _ := AnalyzeBytes(ctx, []byte(deep), Options{Limits: Limits{MaxMarks: 10}})
	if a.Complete() || !strings.Contains(strings.Join(a.Gaps, ""), "limit") {
		t.Errorf("marks: %v", a.Gaps)
	}
	many := strings.Repeat("N", 1000) + "."
	a, _ = AnalyzeBytes(ctx, []byte(many), Options{Limits: Limits{MaxStack: 100}})
	if a.Complete() {
		t.Error("stack limit not enforced")
	}
	a, _ = AnalyzeBytes(ctx, []byte(many), Options{Limits: Limits{MaxOps: 10}})
	if a.Complete() {
		t.Error("op limit not enforced")
	}
	memo := "N" + strings.Repeat("\x94", 100) + "."
	a, _ = AnalyzeBytes(ctx, []byte("\x80\x04"+memo), Options{Limits: Limits{MaxMemo: 10}})
	if a.Complete() {
		t.Error("memo limit not enforced")
	}
	// A long argument is skipped past the keep limit, not buffered.
	long := "\x80\x04\x8e\x00\x00\x10\x00\x00\x00\x00\x00" + strings.Repeat("x", 1<<20) + "."
	a, _ = AnalyzeBytes(ctx, []byte(long), Options{Limits: Limits{MaxKeep: 16}})
	if !a.Complete() {
		t.Errorf("long bytes: %v", a.Gaps)
	}
	if s := a.Pickles[0].Result.(*Str); len(s.S) != 16 || !s.Truncated {
		t.Errorf("kept %d bytes", len(s.S))
	}
	// Many pickles.
	a, _ = AnalyzeBytes(ctx, bytes.Repeat([]byte("N."), 50), Options{Limits: Limits{MaxPickles: 5}})
	if a.Complete() {
		t.Error("pickle count limit not enforced")
	}
	// Cancellation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := AnalyzeBytes(cctx, []byte(many), Options{}); err == nil {
		t.Error("cancelled context not reported")
	}
}

func TestMultiplePicklesAndTrailing(t *testing.T) {
	ctx := context.Background()
	a, _ := AnalyzeBytes(ctx, []byte("N.K\x01.\x80\x02]."), Options{})
	if len(a.Pickles) != 3 || !a.Complete() {
		t.Errorf("pickles %d gaps %v", len(a.Pickles), a.Gaps)
	}
	a, _ = AnalyzeBytes(ctx, []byte("N.\x00\x00\n"), Options{})
	if !a.Complete() {
		t.Errorf("zero padding after STOP is not a gap: %v", a.Gaps)
	}
	a, _ = AnalyzeBytes(ctx, []byte("N.\xff\xfejunk"), Options{})
	if a.Complete() || a.Trailing != 6 {
		t.Errorf("junk after STOP: gaps %v trailing %d", a.Gaps, a.Trailing)
	}
	a, _ = AnalyzeBytes(ctx, []byte("N.\xff\xfejunk"), Options{TrailingOK: true})
	if !a.Complete() {
		t.Errorf("TrailingOK: %v", a.Gaps)
	}
	// Options.Pickles stops after n pickles (legacy PyTorch) and says where.
	a, _ = AnalyzeBytes(ctx, []byte("N.N.RAWSTORAGE"), Options{Pickles: 2})
	if !a.Complete() || a.End != 4 {
		t.Errorf("Pickles=2: gaps %v end %d", a.Gaps, a.End)
	}
}

func TestPolicy(t *testing.T) {
	p := NewPolicy([]string{"myorg.models.*", "helpers.make"})
	cases := []struct {
		module, name string
		want         Verdict
	}{
		{"os", "system", Dangerous},
		{"posix", "system", Dangerous},
		{"nt", "system", Dangerous},
		{"os.path", "join", Dangerous},
		{"builtins", "eval", Dangerous},
		{"__builtin__", "eval", Dangerous},
		{"__builtin__", "set", Safe},
		{"__builtin__", "xrange", Safe},
		{"__builtin__", "reduce", Unaudited},
		{"builtins", "getattr", Dangerous},
		{"builtins", "object", Safe},
		{"builtins", "ValueError", Safe},
		{"builtins", "type", Unaudited},
		{"copy_reg", "_reconstructor", Safe},
		{"torch", "hub.load", Dangerous},
		{"torch.hub", "load", Dangerous},
		{"torch", "load", Dangerous},
		{"torch", "FloatStorage", Safe},
		{"torch", "float32", Safe},
		{"torch._utils", "_rebuild_tensor_v2", Safe},
		{"torch.nn.modules.linear", "Linear", Safe},
		{"torch.nn.modules.module", "torch", Unaudited},
		{"torch.nn.modules.module", "os", Dangerous},
		{"torch.nn.modules.module", "os.system", Dangerous},
		{"torch.nn.modules.linear", "Linear.__init__", Dangerous},
		{"torch.jit", "load", Dangerous},
		{"torch.jit._pickle", "build_intlist", Safe},
		{"torch.jit._pickle", "build_tensor_from_id", Safe},
		{"torch.jit._pickle", "load", Dangerous},
		{"__torch__", "MyModule", Safe},
		{"__torch__.torch.nn.modules.conv", "___torch_mangle_0", Safe},
		{"__torch__", "system", Dangerous},
		{"__torch__", "__reduce__", Unaudited},
		{"torch.utils.collect_env", "run", Dangerous},
		{"numpy.core.multiarray", "_reconstruct", Safe},
		{"numpy._core.multiarray", "_reconstruct", Safe},
		{"numpy", "dtype", Safe},
		{"numpy.testing._private.utils", "runstring", Dangerous},
		{"numpy", "load", Dangerous},
		{"sklearn.linear_model._logistic", "LogisticRegression", Safe},
		{"sklearn.utils", "some_function", Unaudited},
		{"sklearn.tree._tree", "Tree", Safe},
		{"scipy.sparse._csr", "csr_matrix", Safe},
		{"joblib.numpy_pickle", "NumpyArrayWrapper", Safe},
		{"pandas.core.frame", "DataFrame", Safe},
		{"pathlib", "PosixPath", Safe},
		{"pathlib", "Path.write_text", Dangerous},
		{"operator", "attrgetter", Dangerous},
		{"_operator", "methodcaller", Dangerous},
		{"operator", "itemgetter", Unaudited},
		{"functools", "partial", Unaudited},
		{"pydoc", "locate", Dangerous},
		{"pickle", "loads", Dangerous},
		{"_pickle", "Unpickler", Dangerous},
		{"types", "FunctionType", Dangerous},
		{"types", "SimpleNamespace", Safe},
		{"marshal", "loads", Dangerous},
		{"cloudpickle.cloudpickle", "_make_function", Code},
		{"joblib.externals.cloudpickle.cloudpickle", "_make_function", Code},
		{"cloudpickle.cloudpickle", "_builtin_type", Safe},
		{"dill._dill", "_create_code", Code},
		{"dill._dill", "_import_module", Dangerous},
		{"re", "compile", Safe},
		{"__main__", "MyModel", Unaudited},
		{"mymodule", "eval", Dangerous},
		{"myorg.models.resnet", "ResNet", Safe},
		{"helpers", "make", Safe},
		{"helpers", "other", Unaudited},
		{"myorg.models", "os", Dangerous}, // extras never override dangerous
		{"pandas", "read_csv", Dangerous},
		{"uuid", "_get_command_stdout", Dangerous},
		{"torch._C", "_jit_pass_inline", Dangerous},
		{"torch.serialization", "add_safe_globals", Dangerous},
		{"torch.serialization", "_get_layout", Safe},
		{"copyreg", "add_extension", Dangerous},
		{"copyreg", "_reconstructor", Safe},
		{"builtins", "__import__", Dangerous},
		{"torch.nn.functional", "relu", Safe},
		{"torch.nn.functional", "__builtins__", Dangerous},
		{"numpy.core._multiarray_umath", "log1p", Safe},
		{"numpy.core._multiarray_umath", "fromfile", Dangerous},
		{"numpy", "savez_compressed", Dangerous},
		{"", "x", Dangerous},
		{"a b", "c", Dangerous},
	}
	for _, c := range cases {
		if got, why := p.Classify(c.module, c.name); got != c.want {
			t.Errorf("%s.%s: %s (%s), want %s", c.module, c.name, got, why, c.want)
		}
	}
}

func TestExtraSafeAndStrict(t *testing.T) {
	b, _ := os.ReadFile("testdata/malicious/call_of_call_result.pkl")
	a, _ := AnalyzeBytes(context.Background(), b, Options{Strict: true})
	found := false
	for _, is := range a.Issues {
		if is.RuleID == "MLS-PKL-002" && is.Severity == finding.High {
			found = true
		}
	}
	if !found {
		t.Errorf("strict: want unaudited import as high:\n%s", issuesText(a))
	}
	a, _ = AnalyzeBytes(context.Background(), b, Options{ExtraSafe: []string{"myhelpers.*"}})
	for _, is := range a.Issues {
		if is.RuleID == "MLS-PKL-002" {
			t.Errorf("allow-listed import still reported: %s", is.Evidence)
		}
	}
	// Calling a call's result stays critical whatever the allow-list says.
	if sev, _ := a.Highest(); sev != finding.Critical {
		t.Errorf("call of call result: %s", issuesText(a))
	}
}

func TestFindingsAndScanner(t *testing.T) {
	eng := scan.New([]scan.Scanner{New(Options{})}, scan.Options{Workers: 1})
	ctx := context.Background()
	ar := eng.ScanFile(ctx, "testdata/malicious/posix_system_p2.pkl")
	if ar.Status != finding.StatusComplete || len(ar.Findings) != 1 {
		t.Fatalf("status %s findings %d gaps %v", ar.Status, len(ar.Findings), ar.Gaps)
	}
	f := ar.Findings[0]
	if f.RuleID != "MLS-PKL-001" || f.Severity != finding.Critical || f.Evidence.Text != "posix.system('true')  # in posix" {
		t.Errorf("finding %+v", f)
	}
	if f.Location.Offset == nil || *f.Location.Offset != 32 || f.Location.Opcode == nil || *f.Location.Opcode != 7 {
		t.Errorf("location %+v", f.Location)
	}
	if len(f.References) < 5 || f.Remediation == "" {
		t.Errorf("references %v", f.References)
	}
	if ar.Artifact.Format != "pickle" {
		t.Errorf("format %q", ar.Artifact.Format)
	}
	ar = eng.ScanFile(ctx, "testdata/benign/sklearn_rf.joblib")
	if ar.Status != finding.StatusComplete || len(ar.Findings) != 0 || ar.Artifact.Format != "joblib" {
		t.Errorf("benign joblib: %s %v %v %s", ar.Status, ar.Findings, ar.Gaps, ar.Artifact.Format)
	}
	ar = eng.ScanFile(ctx, "testdata/malicious/nullifai_broken_after_payload.pkl")
	if ar.Status != finding.StatusInconclusive || len(ar.Findings) == 0 {
		t.Errorf("broken pickle: %s %v", ar.Status, ar.Findings)
	}
	ar = eng.ScanFile(ctx, "testdata/corpus/invalid__random_bytes.pkl")
	if ar.Status == finding.StatusComplete {
		t.Errorf("random bytes .pkl reported complete")
	}
	ar = eng.ScanFile(ctx, "gen.py")
	if ar.Status != finding.StatusSkipped && ar.Artifact.Format != "" {
		t.Logf("gen.py: %s %s", ar.Status, ar.Artifact.Format)
	}
	ar = eng.ScanFile(ctx, "testdata/gen.py")
	if ar.Artifact.Format != "" {
		t.Errorf("python source detected as %s", ar.Artifact.Format)
	}
	ar = eng.ScanFile(ctx, "testdata/corpus/manifest.json")
	if ar.Artifact.Format != "" {
		t.Errorf("JSON detected as %s", ar.Artifact.Format)
	}
}

func TestInspect(t *testing.T) {
	b, _ := os.ReadFile("testdata/malicious/posix_system_p2.pkl")
	var out bytes.Buffer
	if err := Inspect(context.Background(), bytes.NewReader(b), &out, InspectOptions{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"from posix import system",
		"_var0 = system('true')  # UNSAFE: MLS-PKL-001 (critical)",
		"result = _var0",
		"      32      7     1  REDUCE",
		"GLOBAL           \"posix\" \"system\"",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	out.Reset()
	b, _ = os.ReadFile("testdata/benign/torch_full_model.pkl")
	if err := Inspect(context.Background(), bytes.NewReader(b), &out, InspectOptions{JSON: true}); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Issues) != 0 || len(rep.Program) == 0 || len(rep.Ops) == 0 {
		t.Errorf("json report: %d issues %d lines %d ops", len(rep.Issues), len(rep.Program), len(rep.Ops))
	}
	for _, l := range rep.Program {
		if l.Rule != "" {
			t.Errorf("benign line marked unsafe: %s", l.Text)
		}
	}
	// Nested pickles and BUILD lines.
	b, _ = os.ReadFile("testdata/malicious/joblib_object_array_payload.joblib")
	rep2, err := InspectReport(context.Background(), bytes.NewReader(b), InspectOptions{NoListing: true})
	if err != nil {
		t.Fatal(err)
	}
	var prog strings.Builder
	for _, l := range rep2.Program {
		prog.WriteString(l.Text + " #" + l.Rule + "\n")
	}
	for _, want := range []string{"# nested pickle: joblib object array", "system('true') #MLS-PKL-001", ".__setstate__("} {
		if !strings.Contains(prog.String(), want) {
			t.Errorf("missing %q in\n%s", want, prog.String())
		}
	}
}

func TestScanReaderEmbedded(t *testing.T) {
	payload, _ := os.ReadFile("testdata/malicious/posix_system_p2.pkl")
	var got scan.Result
	var an *Analysis
	// A format scanner hands the engine's input and a reader over the
	// pickle part of a member to ScanReader.
	probe := &probeScanner{fn: func(ctx context.Context, in *scan.Input) (scan.Result, error) {
		got, an = ScanReader(ctx, in, "archive/data.pkl", bytes.NewReader(payload), Options{BaseOffset: 100})
		return got, nil
	}}
	eng := scan.New([]scan.Scanner{probe}, scan.Options{Workers: 1})
	ar := eng.ScanFile(context.Background(), "testdata/benign/builtins_p2.pkl")
	if an == nil || len(ar.Findings) != 1 {
		t.Fatalf("findings %v", ar.Findings)
	}
	f := ar.Findings[0]
	if f.Location.Member != "archive/data.pkl" || *f.Location.Offset != 132 {
		t.Errorf("location %+v offset %d", f.Location, *f.Location.Offset)
	}
	if got.Format != "pickle" || !got.Coverage.Complete {
		t.Errorf("result %+v", got)
	}
}

type probeScanner struct {
	fn func(ctx context.Context, in *scan.Input) (scan.Result, error)
}

func (*probeScanner) Name() string             { return "probe" }
func (*probeScanner) Match(scan.FileInfo) bool { return true }
func (p *probeScanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	return p.fn(ctx, in)
}
