package tensorflow

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/onnx/protowalk"
)

func engine() *scan.Engine {
	return scan.New([]scan.Scanner{NewSavedModel(), NewGraphDef(), NewFingerprint(), NewKerasMetadata(), NewText()}, scan.Options{Workers: 1})
}

func maxSeverity(fs []finding.Finding) finding.Severity {
	m := finding.Severity(-1)
	for _, f := range fs {
		m = max(m, f.Severity)
	}
	return m
}

func TestFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.pb")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	text, _ := filepath.Glob("testdata/*.pbtxt")
	files = append(files, text...)
	eng := engine()
	for _, p := range files {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			ar := eng.ScanFile(context.Background(), p)
			sev := maxSeverity(ar.Findings)
			switch {
			case strings.HasPrefix(name, "valid_"):
				if ar.Status != finding.StatusComplete || len(ar.Findings) != 0 {
					t.Errorf("status %s format %q gaps %v findings %+v, want complete and clean", ar.Status, ar.Artifact.Format, ar.Gaps, ar.Findings)
				}
			case strings.HasPrefix(name, "mal_"):
				if ar.Status != finding.StatusComplete || sev < finding.High {
					t.Errorf("status %s gaps %v findings %+v, want high or critical", ar.Status, ar.Gaps, ar.Findings)
				}
			case strings.HasPrefix(name, "medium_"):
				if ar.Status != finding.StatusComplete || sev != finding.Medium {
					t.Errorf("status %s findings %+v, want medium", ar.Status, ar.Findings)
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

func TestSavedModelDirectories(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"valid_savedmodel_dir", "valid_keras_savedmodel", "mal_keras_lambda", "mal_keras_lambda_module"} {
		rep, err := engine().Scan(context.Background(), []string{filepath.Join("testdata", dir)})
		if err != nil {
			t.Fatal(err)
		}
		var sev finding.Severity = -1
		for _, a := range rep.Artifacts {
			if a.Status == finding.StatusInconclusive {
				t.Errorf("%s: inconclusive: %v", a.Artifact.Path, a.Gaps)
			}
			if strings.HasSuffix(a.Artifact.Path, "saved_model.pb") && a.Artifact.Format != "tf-savedmodel" {
				t.Errorf("saved_model.pb detected as %q", a.Artifact.Format)
			}
			sev = max(sev, maxSeverity(a.Findings))
		}
		if strings.HasPrefix(dir, "valid_") && sev >= 0 {
			t.Errorf("%s: findings in a benign directory", dir)
		}
		if strings.HasPrefix(dir, "mal_") && sev != finding.Critical {
			t.Errorf("%s: max severity %v, want critical", dir, sev)
		}
	}
}

func TestEvidence(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file, rule, want string
		sev              finding.Severity
	}{
		{"mal_pyfunc_graphdef.pb", RulePyFunc.ID, "token pyfunc_0", finding.Critical},
		{"mal_eagerpyfunc_savedmodel.pb", RulePyFunc.ID, "function __inference_call_99", finding.Critical},
		{"mal_readfile_absolute.pb", RuleFileRead.ID, `"/etc/passwd"`, finding.High},
		{"mal_writefile_in_function.pb", RuleFileWrite.ID, `"/tmp/mlsec-fixture"`, finding.High},
		{"mal_printv2_to_file.pb", RuleFileWrite.ID, "PrintV2 to a file", finding.High},
		{"mal_rpc_client.pb", RuleNetwork.ID, "attacker.invalid", finding.High},
		{"mal_savev2_absolute.pb", RuleFileWrite.ID, "/etc/cron.d/mlsec", finding.High},
		{"mal_dataset_traversal.pb", RuleFileRead.ID, "climbs out", finding.High},
		{"medium_readfile_from_input.pb", RuleFileRead.ID, "ReadFile", finding.Medium},
		{"mal_pyfunc_savedmodel.pbtxt", RulePyFunc.ID, "token pyfunc_3", finding.Critical},
		{"mal_readfile.pbtxt", RuleFileRead.ID, `"/etc/passwd"`, finding.High},
		{"mal_asset_traversal.pb", RuleFileRead.ID, "asset file", finding.High},
	}
	eng := engine()
	for _, c := range cases {
		ar := eng.ScanFile(context.Background(), filepath.Join("testdata", c.file))
		if len(ar.Findings) == 0 {
			t.Errorf("%s: no findings", c.file)
			continue
		}
		f := ar.Findings[0]
		if f.RuleID != c.rule || f.Severity != c.sev || !strings.Contains(f.Evidence.Text, c.want) {
			t.Errorf("%s: got %s %s %q, want %s %s containing %q", c.file, f.RuleID, f.Severity, f.Evidence.Text, c.rule, c.sev, c.want)
		}
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sm, gd := read("valid_saved_model.pb"), read("valid_frozen_mlp.pb")
	if k := Detect(sm, int64(len(sm))); k != SavedModel {
		t.Errorf("saved model detected as %d", k)
	}
	if k := Detect(sm[:64], 1<<20); k != SavedModel {
		t.Errorf("saved model head detected as %d", k)
	}
	if k := Detect(gd, int64(len(gd))); k != GraphDef {
		t.Errorf("graphdef detected as %d", k)
	}
	onnx := []byte{0x08, 0x07, 0x12, 0x07, 'p', 'y', 't', 'o', 'r', 'c', 'h', 0x3a, 0x00}
	if k := Detect(onnx, int64(len(onnx))); k != Unknown {
		t.Errorf("ONNX-like content detected as %d", k)
	}
	buf := make([]byte, 4096)
	for i := 0; i < 2000; i++ {
		rand.Read(buf)
		if k := Detect(buf, int64(len(buf))); k != Unknown {
			t.Fatalf("random bytes %x… detected as %d", buf[:16], k)
		}
	}
	if (NewSavedModel()).Match(scan.FileInfo{Name: "saved_model.pb", Head: []byte("\x80\x04\x95 pickle"), Size: 12}) {
		t.Error("a pickle named saved_model.pb matched")
	}
}

func FuzzTensorFlow(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.pb")
	text, _ := filepath.Glob("testdata/*.pbtxt")
	files = append(files, text...)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		head := b[:min(len(b), scan.HeadSize)]
		k := Detect(head, int64(len(b)))
		for _, kind := range []Kind{SavedModel, GraphDef} {
			g, _ := Decode(protowalk.New(context.Background(), bytes.NewReader(b), int64(len(b))), kind)
			for _, n := range g.Flagged {
				classify(g, n)
			}
		}
		_ = k
		checkFingerprint(context.Background(), bytes.NewReader(b), int64(len(b)))
		in := &scan.Input{FileInfo: scan.FileInfo{Name: "keras_metadata.pb", Size: int64(len(b)), Head: head, R: bytes.NewReader(b)}}
		km := NewKerasMetadata()
		km.Match(in.FileInfo)
		km.Scan(context.Background(), in)
		if tk := textKind(head); tk != Unknown {
			if g, err := DecodeText(context.Background(), b, tk); err == nil {
				report(in, g, &scan.Result{})
			}
		}
	})
}
