package modelcard

import (
	"os"
	"strings"
	"testing"
)

func TestParseCard(t *testing.T) {
	tests := []struct {
		name, in string
		check    func(*Card) string
	}{
		{"no front matter", "# Model\n\n## Limitations\n\n- slow\n", func(c *Card) string {
			if len(c.Sections.Limitations) != 1 || c.Sections.Limitations[0] != "slow" {
				return "limitations"
			}
			return ""
		}},
		{"scalar lists", "---\nlicense: mit\ndatasets: imdb\nbase_model: org/base\ntags: x\n---\n", func(c *Card) string {
			if c.License != "mit" || strings.Join(c.Datasets, ",") != "imdb" || strings.Join(c.BaseModels, ",") != "org/base" {
				return "scalars as one-item lists"
			}
			return ""
		}},
		{"license list", "---\nlicense:\n- apache-2.0\n- mit\n---\n", func(c *Card) string {
			if c.License != "apache-2.0 OR mit" {
				return c.License
			}
			return ""
		}},
		{"model-index", "---\nmodel-index:\n- name: m\n  results:\n  - task: {type: text-classification}\n    dataset: {name: imdb, type: imdb, split: test}\n    metrics:\n    - {type: accuracy, value: 0.9, verified: true}\n    - {name: only-name, value: 3}\n    - {value: 1}\n---\n", func(c *Card) string {
			if c.ModelName != "m" || len(c.Results) != 2 || !c.Results[0].Verified || c.Results[0].Value != "0.9" || c.Results[1].MetricName != "only-name" {
				return "results"
			}
			if strings.Join(c.EvalDatasets(), ",") != "imdb" {
				return "eval datasets"
			}
			return ""
		}},
		{"code fences and placeholders", "## Out-of-Scope Use\n\n[More Information Needed]\n\n```\n## Limitations\n- not a heading\n```\n## Bias\n\nSome **bold** [link](https://x) text\nwrapped.\n", func(c *Card) string {
			if len(c.Sections.OutOfScope) != 0 || len(c.Sections.Limitations) != 0 || len(c.Sections.Bias) != 1 || c.Sections.Bias[0] != "Some bold link text wrapped." {
				return "sections"
			}
			return ""
		}},
		{"trainer template", "## Intended uses & limitations\n\nMore information needed\n\n## Who are the intended users?\nAnalysts.\n", func(c *Card) string {
			if len(c.Sections.UseCases) != 0 || strings.Join(c.Sections.Users, "") != "Analysts." {
				return "trainer placeholders"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCard([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(c); msg != "" {
				t.Errorf("%s: %+v", msg, c)
			}
		})
	}
}

func TestParseCardErrors(t *testing.T) {
	bomb := "---\na: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n---\n"
	for name, in := range map[string]string{
		"unclosed":    "---\nlicense: mit\n",
		"not mapping": "---\n- a\n---\n",
		"bad yaml":    "---\nlicense: [\n---\n",
		"alias bomb":  bomb,
		"too large":   strings.Repeat("x", MaxCardSize+1),
	} {
		if _, err := ParseCard([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"architectures":["LlavaForConditionalGeneration"],"model_type":"llava",
		"text_config":{"model_type":"llama","hidden_size":4096,"num_hidden_layers":32},"vocab_size":32064,"torch_dtype":"float16"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ModelType != "llava" || c.Sizes["hidden_size"] != 4096 || c.Sizes["vocab_size"] != 32064 || c.TorchDType != "float16" ||
		strings.Join(c.SizeNames(), ",") != "hidden_size,num_hidden_layers,vocab_size" {
		t.Errorf("%+v", c)
	}
	if _, err := ParseConfig([]byte("[1]")); err == nil {
		t.Error("array config accepted")
	}
}

func FuzzParseCard(f *testing.F) {
	for _, p := range []string{"../testdata/cards/textclf.md", "../testdata/cards/gguf.md", "../testdata/cards/onnx.md"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("---\nmodel-index: &x [*x]\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCard(data)
		if err == nil {
			_ = c.EvalDatasets()
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile("../testdata/hf-textclf/config.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"text_config":{"hidden_size":1e400}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseConfig(data)
	})
}
