package keras

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

// zipScanner stands in for the real zip container scanner: it hands every
// member to the engine by content, as .keras archives are scanned.
type zipScanner struct{}

func (zipScanner) Name() string { return "zip" }
func (zipScanner) Match(f scan.FileInfo) bool {
	return bytes.HasPrefix(f.Head, []byte("PK\x03\x04"))
}
func (zipScanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult("zip")
	zr, err := zip.NewReader(in.R, in.Size)
	if err != nil {
		return res, err
	}
	for _, m := range zr.File {
		res.Merge(in.ScanStream(ctx, m.Name, int64(m.CompressedSize64), func() (io.ReadCloser, error) { return m.Open() }))
	}
	return res, nil
}

func newEngine() *scan.Engine {
	return scan.New([]scan.Scanner{zipScanner{}, NewH5Scanner(), NewConfigScanner()}, scan.Options{})
}

func TestScanFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		format string
		rules  []string // distinct rule IDs expected
		status finding.Status
	}{
		{"benign_dense.h5", "keras-h5", nil, finding.StatusComplete},
		{"benign_dense_fixed.h5", "keras-h5", nil, finding.StatusComplete},
		{"benign_conv.h5", "keras-h5", nil, finding.StatusComplete},
		{"benign_lstm_modules.h5", "keras-h5", nil, finding.StatusComplete},
		{"benign_functional.h5", "keras-h5", nil, finding.StatusComplete},
		{"benign_userblock.h5", "keras-h5", nil, finding.StatusComplete},
		{"benign_large_vlen.h5", "keras-h5", nil, finding.StatusComplete},
		{"benign_large_dense.h5", "keras-h5", nil, finding.StatusComplete},
		{"benign_keras3_legacy.h5", "keras-h5", nil, finding.StatusComplete},
		{"weights_only.h5", "hdf5", nil, finding.StatusComplete},
		{"mal_lambda.h5", "keras-h5", []string{"MLS-KER-001"}, finding.StatusComplete},
		{"mal_lambda_fixed.h5", "keras-h5", []string{"MLS-KER-001"}, finding.StatusComplete},
		{"mal_lambda_large_dense.h5", "keras-h5", []string{"MLS-KER-001"}, finding.StatusComplete},
		{"mal_lambda_userblock.h5", "keras-h5", []string{"MLS-KER-001"}, finding.StatusComplete},
		{"mal_module.h5", "keras-h5", []string{"MLS-KER-002"}, finding.StatusComplete},
		{"mal_activation.h5", "keras-h5", []string{"MLS-KER-004"}, finding.StatusComplete},
		{"mal_tfop.h5", "keras-h5", []string{"MLS-KER-005"}, finding.StatusComplete},
		{"k3_benign_config.json", "keras-config", nil, finding.StatusComplete},
		{"k2_model.json", "keras-config", nil, finding.StatusComplete},
		{"k3_tfop_safe_config.json", "keras-config", nil, finding.StatusComplete},
		{"k3_lambda_config.json", "keras-config", []string{"MLS-KER-001"}, finding.StatusComplete},
		{"k3_lambda_value_config.json", "keras-config", []string{"MLS-KER-001"}, finding.StatusComplete},
		{"k3_popen_config.json", "keras-config", []string{"MLS-KER-002"}, finding.StatusComplete},
		{"k3_function_config.json", "keras-config", []string{"MLS-KER-002"}, finding.StatusComplete},
		{"k3_custom_config.json", "keras-config", []string{"MLS-KER-003"}, finding.StatusComplete},
		{"k3_unsafe_bypass_config.json", "keras-config", []string{"MLS-KER-001", "MLS-KER-006"}, finding.StatusComplete},
		{"not_hf_config.json", "", nil, finding.StatusSkipped},
		{"not_tokenizer.json", "", nil, finding.StatusSkipped},
		{"benign_v3.keras", "zip", nil, finding.StatusComplete},
		{"benign_dense.keras", "zip", nil, finding.StatusComplete},
		{"mal_lambda_v3.keras", "zip", []string{"MLS-KER-001"}, finding.StatusComplete},
		{"mal_popen_v3.keras", "zip", []string{"MLS-KER-002"}, finding.StatusComplete},
		{"mal_arbitrary_class_layer.keras", "zip", []string{"MLS-KER-002"}, finding.StatusComplete},
	}
	eng := newEngine()
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			ar := eng.ScanFile(context.Background(), filepath.Join("testdata", tt.file))
			if ar.Status != tt.status || ar.Artifact.Format != tt.format {
				t.Fatalf("status %s format %q gaps %q; want %s %q", ar.Status, ar.Artifact.Format, ar.Gaps, tt.status, tt.format)
			}
			var got []string
			for _, f := range ar.Findings {
				if !slices.Contains(got, f.RuleID) {
					got = append(got, f.RuleID)
				}
				if f.Location.Pointer == "" {
					t.Errorf("%s without a pointer", f.RuleID)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, tt.rules) {
				for _, f := range ar.Findings {
					t.Logf("%s %s %s: %s", f.RuleID, f.Severity, f.Location.Pointer, f.Evidence.Text)
				}
				t.Fatalf("rules %q, want %q", got, tt.rules)
			}
			if len(tt.rules) > 0 && tt.rules[0] != "MLS-KER-003" && ar.Findings[0].Severity != finding.Critical {
				t.Errorf("severity %s, want critical", ar.Findings[0].Severity)
			}
		})
	}
}

func TestLambdaEvidence(t *testing.T) {
	t.Parallel()
	eng := newEngine()
	for _, name := range []string{"mal_lambda.h5", "mal_lambda_large_dense.h5", "k3_lambda_config.json", "mal_lambda_v3.keras"} {
		ar := eng.ScanFile(context.Background(), filepath.Join("testdata", name))
		if len(ar.Findings) == 0 {
			t.Fatalf("%s: no findings", name)
		}
		f := ar.Findings[0]
		want := "names: os, system; strings: 'true'"
		if !strings.Contains(f.Evidence.Text, want) {
			t.Errorf("%s: evidence %q lacks %q", name, f.Evidence.Text, want)
		}
		if strings.HasSuffix(name, ".h5") && !strings.HasPrefix(f.Location.Pointer, "model_config#/config/layers/") {
			t.Errorf("%s: pointer %q", name, f.Location.Pointer)
		}
		if strings.HasSuffix(name, ".keras") && f.Location.Member != "config.json" {
			t.Errorf("%s: member %q", name, f.Location.Member)
		}
	}
}

func TestConfigMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{"config.json", `{"module": "keras", "class_name": "Sequential", "config": {}}`, true},
		{"x.json", ` {"class_name": "Sequential", "config": {"layers": []}}`, true},
		{"x.json", `{"module": "subprocess", "class_name": "Popen"}`, true},
		{"x.json", `{"config": {"a": [1, {"b": 2}]}, "class_name": "Functional"}`, true},
		{"config.json", `{"architectures": ["BertModel"], "model_type": "bert"}`, false},
		{"x.json", `{"class_name": 3, "config": {}}`, false},
		{"x.json", `["class_name", "config"]`, false},
		{"x.json", `{"nested": {"class_name": "Dense", "config": {}}}`, false},
		{"x.txt", `not json`, false},
	}
	s := NewConfigScanner()
	for _, tt := range tests {
		b := []byte(tt.doc)
		got := s.Match(scan.FileInfo{Name: tt.name, Size: int64(len(b)), Head: b, R: bytes.NewReader(b)})
		if got != tt.want {
			t.Errorf("Match(%s) = %v, want %v", tt.doc, got, tt.want)
		}
	}
	// A config.json whose top-level keys come after a head's worth of data.
	big := `{"build_config": {"pad": "` + strings.Repeat("x", 3*scan.HeadSize) + `"}, "class_name": "Sequential", "config": {}}`
	b := []byte(big)
	if !s.Match(scan.FileInfo{Name: "config.json", Size: int64(len(b)), Head: b[:scan.HeadSize], R: bytes.NewReader(b)}) {
		t.Error("late class_name in config.json not matched")
	}
	head := b[:scan.HeadSize]
	// A compressed member (size unknown) named config.json: scan it.
	if !s.Match(scan.FileInfo{Name: "config.json", Size: -1, Head: head, R: bytes.NewReader(head)}) {
		t.Error("undecided compressed config.json not matched")
	}
	// Any other undecided JSON without Keras keys is left alone.
	if s.Match(scan.FileInfo{Name: "vocab.json", Size: -1, Head: head, R: bytes.NewReader(head)}) {
		t.Error("undecided vocab.json matched")
	}
	hf := []byte(`{"id2label": {"0": "` + strings.Repeat("y", 3*scan.HeadSize) + `"}, "model_type": "vit"}`)
	if s.Match(scan.FileInfo{Name: "config.json", Size: int64(len(hf)), Head: hf[:scan.HeadSize], R: bytes.NewReader(hf)}) {
		t.Error("large Hugging Face config.json matched")
	}
}

func TestAnalyzeConfig(t *testing.T) {
	t.Parallel()
	code := base64.StdEncoding.EncodeToString(readMarshalSeed(t))
	tests := []struct {
		name string
		doc  string
		rule string
		sev  finding.Severity
		gap  bool
	}{
		{"invalid", `{"class_name": "Sequential", "config": `, "", 0, true},
		{"trailing", `{"class_name": "Sequential", "config": {}} {}`, "", 0, true},
		{"nan", `{"class_name": "Sequential", "config": {"epsilon": NaN, "clip": -Infinity}}`, "", 0, false},
		{"k2 function name", `{"class_name": "Lambda", "config": {"function": "my_fn", "function_type": "function"}}`, "MLS-KER-003", finding.Medium, false},
		{"k2 output_shape lambda", `{"class_name": "Lambda", "config": {"output_shape": ["` + code + `", null, null], "output_shape_type": "lambda"}}`, "MLS-KER-001", finding.Critical, false},
		{"untyped func_dump", `{"class_name": "Lambda", "config": {"function": ["` + code + `", null, null]}}`, "MLS-KER-001", finding.Critical, false},
		{"bad base64", `{"class_name": "Lambda", "config": {"function": ["!!!", null, null], "function_type": "lambda"}}`, "MLS-KER-001", finding.Critical, false},
		{"unknown module", `{"module": "acme.layers", "class_name": "Thing", "config": {}}`, "MLS-KER-002", finding.High, false},
		{"registered custom", `{"class_name": "MyLayer", "registered_name": "Custom>MyLayer", "config": {}}`, "MLS-KER-003", finding.Medium, false},
		{"tf function ok", `{"module": "tensorflow.python.ops.nn_ops", "class_name": "function", "config": "relu"}`, "", 0, false},
		{"numpy testing", `{"module": "numpy.testing._private.utils", "class_name": "function", "config": "runstring"}`, "MLS-KER-002", finding.Critical, false},
		{"loss string", `{"class_name": "Sequential", "config": {}, "compile_config": {"loss": "subprocess.check_output"}}`, "MLS-KER-004", finding.Critical, false},
		{"tfop py_function", `{"class_name": "TFOpLambda", "config": {"function": "py_function"}}`, "MLS-KER-005", finding.Critical, false},
		{"tfop os", `{"class_name": "TFOpLambda", "config": {"function": "os.system"}}`, "MLS-KER-005", finding.Critical, false},
		{"enable unsafe", `{"module": "keras.config", "class_name": "function", "config": "enable_unsafe_deserialization", "registered_name": "function"}`, "MLS-KER-006", finding.Critical, false},
		{"load_model gadget", `{"module": "keras.layers", "class_name": "Lambda", "config": {"function": {"module": "keras.models", "class_name": "function", "config": "load_model", "registered_name": "function"}, "arguments": {"safe_mode": false}}}`, "MLS-KER-006", finding.Critical, false},
		{"k2 load_model gadget", `{"class_name": "Lambda", "config": {"function": "load_model", "function_type": "function"}}`, "MLS-KER-006", finding.Critical, false},
		{"tfsm", `{"module": "keras.layers", "class_name": "TFSMLayer", "config": {"filepath": "/tmp/sm"}}`, "MLS-KER-006", finding.High, false},
		{"keras relu function", `{"module": "keras.src.activations.activations", "class_name": "function", "config": "relu", "registered_name": null}`, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &scan.Input{FileInfo: scan.FileInfo{Name: "config.json"}}
			res := AnalyzeConfig(context.Background(), in, []byte(tt.doc), "")
			if res.Coverage.Complete == tt.gap {
				t.Fatalf("complete = %v, gaps %q", res.Coverage.Complete, res.Coverage.Gaps)
			}
			if tt.rule == "" {
				if len(res.Findings) != 0 {
					t.Fatalf("unexpected findings: %+v", res.Findings)
				}
				return
			}
			if len(res.Findings) != 1 || res.Findings[0].RuleID != tt.rule || res.Findings[0].Severity != tt.sev {
				t.Fatalf("findings %+v, want one %s %s", res.Findings, tt.rule, tt.sev)
			}
		})
	}
}

func TestConfigLimits(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"class_name": "X", "config": `, maxConfigDepth+1) + "{}" + strings.Repeat("}", maxConfigDepth+1)
	res := AnalyzeConfig(context.Background(), &scan.Input{}, []byte(deep), "")
	if res.Coverage.Complete {
		t.Error("deep config reported complete")
	}
}

func TestCorruptH5IsInconclusive(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/mal_lambda.h5")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	eng := newEngine()
	for _, cut := range []int{100, 1000, 4000} {
		p := filepath.Join(dir, "cut.h5")
		if err := os.WriteFile(p, b[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		ar := eng.ScanFile(context.Background(), p)
		if ar.Status == finding.StatusComplete && len(ar.Findings) == 0 {
			t.Errorf("truncated at %d: clean", cut)
		}
	}
	// An unsupported superblock version is a gap, never clean.
	c := append([]byte(nil), b...)
	c[8] = 7
	p := filepath.Join(dir, "v7.h5")
	os.WriteFile(p, c, 0o644)
	if ar := eng.ScanFile(context.Background(), p); ar.Status != finding.StatusInconclusive {
		t.Errorf("superblock v7: status %s", ar.Status)
	}
}
