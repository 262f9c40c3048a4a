// Package template scans the chat templates Hugging Face model repositories
// ship beside the weights: the "chat_template" entry of
// tokenizer_config.json or chat_template.json (a string, or a list of named
// templates) and stand-alone chat_template.jinja files. Each template is
// parsed as Jinja2 and checked for sandbox-escape constructs, as GGUF
// templates are (see package gguf/jinja); loaders that render templates
// outside a sandbox run whatever such a template reaches.
package template

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/gguf/jinja"
)

// Rules reported by this package.
var (
	RuleEscape = finding.MustRegister(finding.Rule{
		ID: "MLS-TPL-001", Name: "ChatTemplateSandboxEscape",
		Title:    "Chat template escapes the Jinja2 sandbox",
		Severity: finding.Critical,
		Summary: "A chat template shipped with the model reaches Python internals (dunder attributes such as " +
			"__class__, __globals__, __subclasses__, or name-mangled privates). Rendered outside a sandbox, or " +
			"by a vulnerable sandbox, it runs arbitrary code when the model is used for chat.",
		Remediation: "Do not use the template. Replace it with the base model's official template and obtain the " +
			"model from a trusted publisher.",
		References: []finding.Reference{finding.CWE(1336), finding.CWE(94), finding.CVE("CVE-2024-34359"),
			finding.ATLAS("AML.T0010.003"), finding.ATLAS("AML.T0011.000"), finding.OWASPML("ML06")},
	})
	RuleSuspicious = finding.MustRegister(finding.Rule{
		ID: "MLS-TPL-002", Name: "ChatTemplateSuspicious",
		Title:    "Chat template uses constructs that prepare a sandbox escape",
		Severity: finding.High,
		Summary: "A chat template accesses private attributes, looks attributes up by computed names, names " +
			"Python modules or builtins, or spells dunder names in strings: the building blocks of " +
			"template-injection payloads, not of chat formatting.",
		Remediation: "Review the template; replace it with the base model's official chat template.",
		References: []finding.Reference{finding.CWE(1336), finding.CVE("CVE-2024-34359"),
			finding.ATLAS("AML.T0010.003"), finding.OWASPML("ML06")},
	})
	RuleInclude = finding.MustRegister(finding.Rule{
		ID: "MLS-TPL-003", Name: "ChatTemplateLoadsTemplates",
		Title:    "Chat template loads other templates",
		Severity: finding.Medium,
		Summary: "The chat template uses include, import, extends or from, which read templates through the " +
			"rendering environment's loader (possibly from the file system).",
		Remediation: "Chat templates should be self-contained; replace the template.",
		References:  []finding.Reference{finding.CWE(73), finding.OWASPML("ML06")},
	})
)

var levelRule = map[jinja.Level]*finding.Rule{
	jinja.Escape: RuleEscape, jinja.Suspicious: RuleSuspicious, jinja.Include: RuleInclude,
}

// maxJSON bounds the tokenizer configs read (they are read whole).
const maxJSON = 64 << 20

// Scanner is the "chat-template" scanner.
type Scanner struct{}

// New returns the chat-template scanner.
func New() *Scanner { return &Scanner{} }

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "chat-template" }

func isJinjaName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".jinja") || strings.HasSuffix(n, ".jinja2") || strings.HasSuffix(n, ".j2")
}

func isConfigName(name string) bool {
	n := strings.ToLower(name)
	return n == "tokenizer_config.json" || n == "chat_template.json"
}

// Match implements scan.Scanner: a .jinja file with template tags, or a
// JSON object named like a tokenizer config or mentioning "chat_template"
// in its head.
func (*Scanner) Match(f scan.FileInfo) bool {
	h := bytes.TrimPrefix(f.Head, []byte("\xef\xbb\xbf"))
	if isJinjaName(f.Name) {
		return bytes.Contains(h, []byte("{{")) || bytes.Contains(h, []byte("{%"))
	}
	t := bytes.TrimLeft(h, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	return isConfigName(f.Name) || bytes.Contains(h, []byte(`"chat_template"`))
}

// Template is one chat template and where it came from.
type Template struct {
	// Name is "default" or the named template's name.
	Name string
	Text string
}

// Extract returns the chat templates of a tokenizer config or
// chat_template.json document.
func Extract(doc []byte) ([]Template, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	raw, ok := top["chat_template"]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []Template{{Name: "default", Text: s}}, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return nil, errors.New("chat_template is neither a string nor a list of named templates")
	}
	out := make([]Template, 0, len(named))
	for _, n := range named {
		out = append(out, Template{Name: n.Name, Text: n.Template})
	}
	return out, nil
}

// Scan implements scan.Scanner.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult(s.Name())
	limit := int64(maxJSON)
	if isJinjaName(in.Name) {
		limit = jinja.MaxTemplateSize
	}
	if in.Size < 0 || in.Size > limit {
		return res, fmt.Errorf("%s: %w: %d bytes (limit %d)", s.Name(), scan.ErrLimit, in.Size, limit)
	}
	b := make([]byte, in.Size)
	if _, err := in.R.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("%s: read: %w", s.Name(), err)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var ts []Template
	if isJinjaName(in.Name) {
		ts = []Template{{Name: "default", Text: string(b)}}
	} else {
		var err error
		if ts, err = Extract(b); err != nil {
			return res, fmt.Errorf("%s: %w", s.Name(), err)
		}
	}
	for _, t := range ts {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		check(in, t, &res)
	}
	return res, nil
}

const maxIssues = 10

func check(in *scan.Input, t Template, res *scan.Result) {
	issues, err := jinja.Check(t.Text)
	switch {
	case errors.Is(err, jinja.ErrLimit):
		res.Gap("chat template %q: %v", t.Name, err)
	case err != nil:
		res.Gap("chat template %q does not parse as Jinja2: %v", t.Name, err)
		return
	}
	for i, is := range issues {
		if i == maxIssues {
			break
		}
		f := in.NewFinding(levelRule[is.Level])
		f.Location.Pointer = "chat_template/" + t.Name
		if isJinjaName(in.Name) {
			f.Location.Line = is.Line
		}
		f.Evidence = finding.Evidence{
			Text: fmt.Sprintf("template %q line %d: %s: %s", t.Name, is.Line, is.Construct, is.Why),
			Fields: map[string]any{
				"template": t.Name, "construct": is.Construct, "reason": is.Why, "template_line": is.Line,
			},
		}
		res.Add(f)
	}
}
