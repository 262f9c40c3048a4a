package bom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mlsec/mlsec/internal/bom"
	"github.com/mlsec/mlsec/internal/bom/spdx3"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/reporttest"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
)

var fixtures = []string{"hf-textclf", "gguf-chat", "onnx-mlp", "project"}

// build describes a fixture the way 'mlsec bom --reproducible' does.
func build(t testing.TB, path string) *bom.BOM {
	t.Helper()
	tool := finding.Tool{Name: "mlsec", Version: "0.0.0-test"}
	eng := scan.New(registry.Scanners(registry.Config{VulnDB: filepath.Join("testdata", "no-vulndb.db")}),
		scan.Options{Workers: 2, Tool: tool})
	rep, err := eng.Scan(context.Background(), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bom.Build(context.Background(), path, bom.Options{Workers: 4, Findings: rep, Reproducible: true, Tool: tool,
		LedgerRefs: []string{"https://ledger.example.com/models/tiny"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encode(t testing.TB, b *bom.BOM, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if format == spdx3.Format {
		err = spdx3.Encode(&buf, b)
	} else {
		err = bom.EncodeCycloneDX(&buf, b, format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// schemas compiles the vendored CycloneDX 1.6 (with the SPDX licence and
// JSF schemas it references) and SPDX 3.0.1 schemas.
func schemas(t testing.TB) (cdx, spdx *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseRegexpEngine(compileRegexp)
	for _, f := range []string{"bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json", "spdx-3.0.1.schema.json"} {
		fh, err := os.Open(filepath.Join("testdata", "schema", f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id := "http://cyclonedx.org/schema/" + f
		if f == "spdx-3.0.1.schema.json" {
			id = "https://spdx.org/schema/3.0.1/spdx-json-schema.json"
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if cdx, err = c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json"); err != nil {
		t.Fatal(err)
	}
	if spdx, err = c.Compile("https://spdx.org/schema/3.0.1/spdx-json-schema.json"); err != nil {
		t.Fatal(err)
	}
	return cdx, spdx
}

// compileRegexp is Go's regexp plus the one construct the SPDX schema
// uses that RE2 lacks: a leading negative lookahead of a literal,
// "^(?!_:)rest", which is "does not start with _: and matches ^rest".
func compileRegexp(s string) (jsonschema.Regexp, error) {
	if rest, ok := strings.CutPrefix(s, "^(?!"); ok {
		lit, tail, ok := strings.Cut(rest, ")")
		if ok && regexp.QuoteMeta(lit) == lit {
			re, err := regexp.Compile("^" + tail)
			return lookahead{s, lit, re}, err
		}
	}
	return regexp.Compile(s)
}

type lookahead struct {
	src, not string
	re       *regexp.Regexp
}

func (l lookahead) MatchString(s string) bool {
	return !strings.HasPrefix(s, l.not) && l.re.MatchString(s)
}
func (l lookahead) String() string { return l.src }

func TestGoldenAndSchemas(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600") // 2026-01-01T00:00:00Z
	cdxSchema, spdxSchema := schemas(t)
	for _, fx := range fixtures {
		b := build(t, filepath.Join("testdata", fx))
		for _, format := range []string{bom.CycloneDXJSON, bom.CycloneDXXML, spdx3.Format} {
			t.Run(fx+"/"+format, func(t *testing.T) {
				out := encode(t, b, format)
				ext := map[string]string{bom.CycloneDXJSON: ".cdx.json", bom.CycloneDXXML: ".cdx.xml", spdx3.Format: ".spdx.json"}[format]
				reporttest.Golden(t, filepath.Join("golden", fx+ext), out)
				switch format {
				case bom.CycloneDXJSON:
					if err := reporttest.Validate(cdxSchema, out); err != nil {
						t.Errorf("CycloneDX 1.6 schema: %v", err)
					}
				case spdx3.Format:
					if err := reporttest.Validate(spdxSchema, out); err != nil {
						t.Errorf("SPDX 3.0.1 schema: %v", err)
					}
				case bom.CycloneDXXML:
					// The XML must decode back to the same BOM as the JSON.
					x, err := bom.DecodeCycloneDX(bytes.NewReader(out))
					if err != nil {
						t.Fatal(err)
					}
					j, err := bom.DecodeCycloneDX(bytes.NewReader(encode(t, b, bom.CycloneDXJSON)))
					if err != nil {
						t.Fatal(err)
					}
					if got, want := bom.Compare(bom.InventoryOf(x), bom.InventoryOf(j)), 0; len(got) != want {
						t.Errorf("XML and JSON differ: %+v", got)
					}
				}
			})
		}
	}
}

func TestReproducible(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	src := filepath.Join("testdata", "hf-textclf")
	moved := filepath.Join(t.TempDir(), "hf-textclf")
	copyDir(t, src, moved)
	for _, format := range []string{bom.CycloneDXJSON, bom.CycloneDXXML, spdx3.Format} {
		a := encode(t, build(t, src), format)
		b := encode(t, build(t, src), format)
		c := encode(t, build(t, moved), format)
		if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
			t.Errorf("%s: --reproducible output differs between runs or locations", format)
		}
		if bytes.Contains(a, []byte("timestamp")) {
			t.Errorf("%s: reproducible CycloneDX without SOURCE_DATE_EPOCH has a timestamp", format)
		}
	}
	// Without --reproducible the serial number is random.
	x, _ := bom.Build(context.Background(), src, bom.Options{})
	y, _ := bom.Build(context.Background(), src, bom.Options{})
	if x.Serial == y.Serial || x.Created.IsZero() {
		t.Errorf("serials %s %s, created %v", x.Serial, y.Serial, x.Created)
	}
	// Changing one byte of the weights changes the serial.
	p := filepath.Join(moved, "model.safetensors")
	data, _ := os.ReadFile(p)
	data[len(data)-1] ^= 1
	os.WriteFile(p, data, 0o644)
	if build(t, moved).Serial == build(t, src).Serial {
		t.Error("serial did not change with the content")
	}
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestModelFacts(t *testing.T) {
	cases := []struct {
		fixture string
		check   func(t *testing.T, b *bom.BOM)
	}{
		{"hf-textclf", func(t *testing.T, b *bom.BOM) {
			m := b.Model
			want := map[string]string{
				"name": m.Name, "task": m.Task, "family": m.ArchitectureFamily, "arch": m.Architecture,
				"approach": m.Approach, "licenses": strings.Join(m.Licenses, ","), "dtypes": strings.Join(m.DTypes, ","),
				"formats": strings.Join(m.Formats, ","),
			}
			for k, v := range map[string]string{"name": "tiny-distilbert-imdb", "task": "text-classification",
				"family": "distilbert", "arch": "DistilBertForSequenceClassification", "approach": "supervised",
				"licenses": "apache-2.0", "dtypes": "float32", "formats": "pytorch-zip,safetensors"} {
				if want[k] != v {
					t.Errorf("%s = %q, want %q", k, want[k], v)
				}
			}
			// 24*16 + 64*16 + 2*16 + 2*(4*(16*16+16) + 4*16 + 32*16+32 + 16*32+16) + 16*16+16 + 2*16+2
			if m.Parameters != 6194 {
				t.Errorf("parameters %d, want 6194 (one copy, not both formats)", m.Parameters)
			}
			if len(m.Metrics) != 3 || m.Metrics[0].Value != "0.8712" {
				t.Errorf("metrics %+v", m.Metrics)
			}
			if len(b.Datasets) != 2 || b.Datasets[0].Role != "training" || b.Datasets[1].Role != "evaluation" {
				t.Errorf("datasets %+v", b.Datasets)
			}
			var sig bool
			for _, r := range b.Refs {
				sig = sig || r.Type == "digital-signature" && r.URL == "model.sig"
			}
			if !sig {
				t.Errorf("model.sig not referenced: %+v", b.Refs)
			}
			for _, f := range b.Files {
				if f.Path == "pytorch_model.bin" && (f.Weights == nil || f.Weights.Tensors != 40 || f.Weights.Parameters != 6194) {
					t.Errorf("pytorch_model.bin: %+v", f.Weights)
				}
			}
		}},
		{"gguf-chat", func(t *testing.T, b *bom.BOM) {
			m := b.Model
			if m.ArchitectureFamily != "llama" || m.Quantization != "Q8_0" || m.Parameters != 41*1024-1024+1024 && m.Parameters == 0 {
				t.Errorf("gguf model %+v", m)
			}
			w := b.Files[len(b.Files)-1].Weights
			if w == nil || w.Tensors != 12 || w.Name != "Tiny Chat" || strings.Join(w.DTypes, ",") != "F32,Q8_0" {
				t.Errorf("gguf weights %+v", w)
			}
			// 32*32*2 (embd, output) + 4*32*32 + 3*64*32 + 3*32 (norms)
			if w.Parameters != 2*32*32+4*32*32+3*64*32+3*32 {
				t.Errorf("gguf parameters %d", w.Parameters)
			}
			if len(m.Sections.Bias) != 1 || len(m.Sections.Risks) == 0 || len(m.Sections.Recommendations) != 2 {
				t.Errorf("sections %+v", m.Sections)
			}
		}},
		{"onnx-mlp", func(t *testing.T, b *bom.BOM) {
			var w = b.Files[len(b.Files)-1].Weights
			if w == nil || w.Format != "onnx" || w.Parameters != 4*8+8+8*3+3 || w.Tensors != 4 ||
				strings.Join(w.Opsets, ",") != "ai.onnx:13" || w.Producer != "pytorch" ||
				strings.Join(w.Inputs, ",") != "features" || strings.Join(w.Outputs, ",") != "logits" {
				t.Errorf("onnx weights %+v", w)
			}
			if strings.Join(b.Model.Inputs, ",") != "features" {
				t.Errorf("inputs %v", b.Model.Inputs)
			}
		}},
		{"project", func(t *testing.T, b *bom.BOM) {
			if !b.Model.HasWeights || strings.Join(b.Model.Formats, ",") != "pickle" {
				t.Errorf("the project's pickled classifier is its model: %+v", b.Model)
			}
			var torch, purls bool
			for _, p := range b.Packages {
				torch = torch || p.PURL == "pkg:pypi/torch@2.4.0" && p.Source == "poetry.lock" && len(p.Hashes) == 2
				purls = purls || p.PURL == "pkg:pypi/huggingface-hub@0.25.1"
			}
			if !torch || !purls || len(b.Packages) != 11 {
				t.Errorf("packages (lockfile preferred over manifests): %+v", b.Packages)
			}
			var crit bool
			for _, f := range b.Findings {
				crit = crit || f.Severity == finding.Critical && f.File == "models/classifier.pkl"
			}
			if !crit {
				t.Errorf("no critical finding for the pickle: %+v", b.Findings)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) { c.check(t, build(t, filepath.Join("testdata", c.fixture))) })
	}
}

func TestSingleFile(t *testing.T) {
	b := build(t, filepath.Join("testdata", "gguf-chat", "tiny-chat-Q8_0.gguf"))
	if len(b.Files) != 1 || b.Files[0].Path != "tiny-chat-Q8_0.gguf" || b.Model.Name != "tiny-chat-Q8_0" {
		t.Errorf("single file BOM: %+v %+v", b.Files, b.Model)
	}
}

func TestDiff(t *testing.T) {
	old := filepath.Join("testdata", "hf-textclf")
	dir := filepath.Join(t.TempDir(), "hf-textclf")
	copyDir(t, old, dir)
	card, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	card = bytes.Replace(card, []byte("license: apache-2.0"), []byte("license: cc-by-nc-4.0"), 1)
	card = bytes.Replace(card, []byte("- stanfordnlp/imdb\n"), []byte("- stanfordnlp/imdb\n- stanfordnlp/sst2\n"), 1)
	card = bytes.Replace(card, []byte("value: 0.8712"), []byte("value: 0.8840"), 1)
	os.WriteFile(filepath.Join(dir, "README.md"), card, 0o644)
	w, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	w[len(w)-1] ^= 0x40
	os.WriteFile(filepath.Join(dir, "model.safetensors"), w, 0o644)
	os.Remove(filepath.Join(dir, "pytorch_model.bin"))
	os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("torch==2.4.0\ntransformers==4.44.2\n"), 0o644)
	evil, _ := os.ReadFile(filepath.Join("testdata", "project", "models", "classifier.pkl"))
	os.WriteFile(filepath.Join(dir, "head.pkl"), evil, 0o644)

	inv := func(b *bom.BOM) bom.Inventory {
		var buf bytes.Buffer
		if err := bom.EncodeCycloneDX(&buf, b, bom.CycloneDXJSON); err != nil {
			t.Fatal(err)
		}
		x, err := bom.DecodeCycloneDX(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return bom.InventoryOf(x)
	}
	res := &bom.DiffResult{Old: "v1", New: "v2", Changes: bom.Compare(inv(build(t, old)), inv(build(t, dir)))}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, filepath.Join("golden", "diff.txt"), text.Bytes())
	got := map[string]bool{}
	for _, c := range res.Changes {
		got[c.Category+" "+c.Kind+" "+c.Name] = true
	}
	for _, want := range []string{
		"weights changed model.safetensors", "weights removed pytorch_model.bin", "weights added head.pkl",
		"datasets added stanfordnlp/sst2", "licenses changed tiny-distilbert-imdb",
		"dependencies added pkg:pypi/torch", "dependencies added pkg:pypi/transformers",
		"model changed metric accuracy (Text Classification on imdb (plain_text, test))",
	} {
		if !got[want] {
			t.Errorf("missing change %q in %s", want, text.String())
		}
	}
	var fnd bool
	for k := range got {
		fnd = fnd || strings.HasPrefix(k, "findings added MLS-PKL-")
	}
	if !fnd {
		t.Errorf("new pickle finding not reported:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := res.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Errorf("JSON diff: %v", err)
	}
	if d := bom.Compare(inv(build(t, old)), inv(build(t, old))); len(d) != 0 {
		t.Errorf("identical inputs differ: %+v", d)
	}
}
