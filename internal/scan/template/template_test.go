package template

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

func TestFixtures(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("testdata/*_*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	eng := scan.New([]scan.Scanner{New()}, scan.Options{Workers: 1})
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			rep, err := eng.Scan(context.Background(), []string{dir})
			if err != nil || len(rep.Artifacts) != 1 {
				t.Fatalf("scan: %v, %d artifacts", err, len(rep.Artifacts))
			}
			ar := rep.Artifacts[0]
			sev := finding.Severity(-1)
			for _, f := range ar.Findings {
				sev = max(sev, f.Severity)
			}
			switch {
			case strings.HasPrefix(name, "valid_"):
				if ar.Status != finding.StatusComplete || len(ar.Findings) != 0 {
					t.Errorf("status %s gaps %v findings %+v, want complete and clean", ar.Status, ar.Gaps, ar.Findings)
				}
			case strings.HasPrefix(name, "mal_"):
				if ar.Status != finding.StatusComplete || sev != finding.Critical {
					t.Errorf("status %s gaps %v findings %+v, want critical", ar.Status, ar.Gaps, ar.Findings)
				}
			case strings.HasPrefix(name, "include_"):
				if sev != finding.Medium {
					t.Errorf("findings %+v, want medium", ar.Findings)
				}
			case strings.HasPrefix(name, "invalid_"):
				if ar.Status != finding.StatusInconclusive {
					t.Errorf("status %s, want inconclusive", ar.Status)
				}
			default:
				t.Fatalf("fixture %s has no known prefix", name)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	s := New()
	cases := []struct {
		name, head string
		want       bool
	}{
		{"tokenizer_config.json", `{"bos_token": "<s>"}`, true},
		{"other.json", `{"chat_template": "{{ x }}"}`, true},
		{"config.json", `{"architectures": ["LlamaForCausalLM"]}`, false},
		{"chat_template.jinja", `{% for m in messages %}{% endfor %}`, true},
		{"notes.jinja", "plain text", false},
		{"tokenizer_config.json", "not json", false},
	}
	for _, c := range cases {
		if got := s.Match(scan.FileInfo{Name: c.name, Head: []byte(c.head), Size: int64(len(c.head))}); got != c.want {
			t.Errorf("Match(%s, %q) = %v, want %v", c.name, c.head, got, c.want)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := Extract(b)
		if err != nil && ts != nil {
			t.Fatal("templates with an error")
		}
		for _, name := range []string{"tokenizer_config.json", "chat_template.jinja"} {
			in := &scan.Input{FileInfo: scan.FileInfo{Name: name, Size: int64(len(b)), Head: b[:min(len(b), scan.HeadSize)], R: bytes.NewReader(b)}}
			s := New()
			if s.Match(in.FileInfo) {
				s.Scan(context.Background(), in)
			}
		}
	})
}
