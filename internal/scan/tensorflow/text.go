package tensorflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mlsec/mlsec/internal/scan"
)

// TextScanner reads the protobuf text format of SavedModels
// (saved_model.pbtxt, which the loader accepts beside saved_model.pb) and
// GraphDefs (tf.io.write_graph(as_text=True)).
type TextScanner struct{}

// NewText returns the "tf-text" scanner.
func NewText() *TextScanner { return &TextScanner{} }

// Name implements scan.Scanner.
func (*TextScanner) Name() string { return "tf-text" }

// maxText bounds the text graphs read (they are read whole).
const maxText = 256 << 20

// textKind recognises the first field name of a text SavedModel or
// GraphDef after comments and blank space.
func textKind(head []byte) Kind {
	s := string(head)
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if !strings.HasPrefix(s, "#") {
			break
		}
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return Unknown
		}
		s = s[i+1:]
	}
	word := s
	if i := strings.IndexAny(s, " \t\r\n:{<"); i >= 0 {
		word = s[:i]
	}
	rest := strings.TrimLeft(s[len(word):], " \t\r\n")
	if rest == "" {
		return Unknown
	}
	switch word {
	case "saved_model_schema_version":
		if rest[0] == ':' {
			return SavedModel
		}
	case "meta_graphs":
		if rest[0] == '{' || rest[0] == '<' || strings.HasPrefix(rest, ": {") {
			return SavedModel
		}
	case "node":
		if rest[0] == '{' || rest[0] == '<' {
			return GraphDef
		}
	}
	return Unknown
}

// Match implements scan.Scanner: content starting like a text SavedModel or
// GraphDef.
func (*TextScanner) Match(f scan.FileInfo) bool { return textKind(f.Head) != Unknown }

// Scan implements scan.Scanner.
func (s *TextScanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult(s.Name())
	kind := textKind(in.Head)
	if kind == SavedModel {
		res.Format = "tf-savedmodel-text"
	} else {
		res.Format = "tf-graphdef-text"
	}
	if in.Size < 0 || in.Size > maxText {
		return res, fmt.Errorf("%s: %w: text graph of %d bytes (limit %d)", s.Name(), scan.ErrLimit, in.Size, maxText)
	}
	b := make([]byte, in.Size)
	if _, err := in.R.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("%s: read: %w", s.Name(), err)
	}
	g, err := DecodeText(ctx, b, kind)
	if g != nil {
		report(in, g, &res)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", s.Name(), err)
	}
	return res, nil
}

// tmsg is a parsed text-format message: fields in order.
type tmsg struct{ fields []tfield }

type tfield struct {
	name string
	str  string // scalar value, strings unescaped
	msg  *tmsg
	off  int64
}

func (m *tmsg) all(name string) []tfield {
	var out []tfield
	for _, f := range m.fields {
		if f.name == name {
			out = append(out, f)
		}
	}
	return out
}

func (m *tmsg) first(name string) (tfield, bool) {
	for _, f := range m.fields {
		if f.name == name {
			return f, true
		}
	}
	return tfield{}, false
}

// ErrText marks malformed text format.
var ErrText = errors.New("malformed protobuf text format")

type tparser struct {
	s     []byte
	i     int
	ctx   context.Context
	steps int
}

func (p *tparser) errf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrText, p.i, fmt.Sprintf(format, args...))
}

func (p *tparser) space() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.i++
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+'
}

// message parses fields until the closing delimiter (0 for end of input).
func (p *tparser) message(close byte, depth int) (*tmsg, error) {
	if depth > 100 {
		return nil, p.errf("messages nested deeper than 100")
	}
	m := &tmsg{}
	for {
		p.steps++
		if p.steps&4095 == 0 {
			if err := p.ctx.Err(); err != nil {
				return nil, err
			}
		}
		p.space()
		if p.i >= len(p.s) {
			if close != 0 {
				return nil, p.errf("unexpected end, expected %q", close)
			}
			return m, nil
		}
		if close != 0 && p.s[p.i] == close {
			p.i++
			return m, nil
		}
		off := int64(p.i)
		name, err := p.fieldName()
		if err != nil {
			return nil, err
		}
		p.space()
		colon := false
		if p.i < len(p.s) && p.s[p.i] == ':' {
			colon = true
			p.i++
			p.space()
		}
		if p.i >= len(p.s) {
			return nil, p.errf("missing value for %s", name)
		}
		switch c := p.s[p.i]; {
		case c == '{' || c == '<':
			p.i++
			end := byte('}')
			if c == '<' {
				end = '>'
			}
			sub, err := p.message(end, depth+1)
			if err != nil {
				return nil, err
			}
			m.fields = append(m.fields, tfield{name: name, msg: sub, off: off})
		case c == '[' && colon:
			p.i++
			for {
				p.space()
				if p.i < len(p.s) && p.s[p.i] == ']' {
					p.i++
					break
				}
				if p.i < len(p.s) && (p.s[p.i] == '{' || p.s[p.i] == '<') {
					end := byte('}')
					if p.s[p.i] == '<' {
						end = '>'
					}
					p.i++
					sub, err := p.message(end, depth+1)
					if err != nil {
						return nil, err
					}
					m.fields = append(m.fields, tfield{name: name, msg: sub, off: off})
				} else {
					v, err := p.scalar()
					if err != nil {
						return nil, err
					}
					m.fields = append(m.fields, tfield{name: name, str: v, off: off})
				}
				p.space()
				if p.i < len(p.s) && p.s[p.i] == ',' {
					p.i++
				}
			}
		default:
			if !colon {
				return nil, p.errf("expected ':' after %s", name)
			}
			v, err := p.scalar()
			if err != nil {
				return nil, err
			}
			m.fields = append(m.fields, tfield{name: name, str: v, off: off})
		}
		p.space()
		if p.i < len(p.s) && (p.s[p.i] == ',' || p.s[p.i] == ';') {
			p.i++
		}
	}
}

func (p *tparser) fieldName() (string, error) {
	if p.s[p.i] == '[' { // extension or Any type URL
		j := p.i + 1
		for j < len(p.s) && p.s[j] != ']' && p.s[j] != '\n' {
			j++
		}
		if j >= len(p.s) || p.s[j] != ']' {
			return "", p.errf("unterminated [name]")
		}
		name := string(p.s[p.i : j+1])
		p.i = j + 1
		return name, nil
	}
	j := p.i
	for j < len(p.s) && (isIdent(p.s[j]) && p.s[j] != '.' && p.s[j] != '-' && p.s[j] != '+') {
		j++
	}
	if j == p.i {
		return "", p.errf("expected a field name, got %q", p.s[p.i])
	}
	name := string(p.s[p.i:j])
	p.i = j
	return name, nil
}

// scalar reads an identifier, a number or one or more adjacent strings.
func (p *tparser) scalar() (string, error) {
	if c := p.s[p.i]; c == '"' || c == '\'' {
		var b strings.Builder
		for p.i < len(p.s) && (p.s[p.i] == '"' || p.s[p.i] == '\'') {
			s, err := p.quoted()
			if err != nil {
				return "", err
			}
			if b.Len() < maxStr {
				b.WriteString(s)
			}
			p.space()
		}
		out := b.String()
		if len(out) > maxStr {
			out = out[:maxStr]
		}
		return out, nil
	}
	j := p.i
	for j < len(p.s) && isIdent(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", p.errf("expected a value, got %q", p.s[p.i])
	}
	v := string(p.s[p.i:j])
	p.i = j
	return v, nil
}

// quoted reads one string literal with C escapes.
func (p *tparser) quoted() (string, error) {
	q := p.s[p.i]
	p.i++
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return string(b), nil
		case c == '\n':
			return "", p.errf("newline in string")
		case c == '\\' && p.i+1 < len(p.s):
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case 'n':
				b = append(b, '\n')
			case 't':
				b = append(b, '\t')
			case 'r':
				b = append(b, '\r')
			case 'a':
				b = append(b, '\a')
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'v':
				b = append(b, '\v')
			case 'x', 'X':
				j := p.i
				for j < len(p.s) && j < p.i+2 && strings.IndexByte("0123456789abcdefABCDEF", p.s[j]) >= 0 {
					j++
				}
				v, err := strconv.ParseUint(string(p.s[p.i:j]), 16, 8)
				if err != nil {
					return "", p.errf("bad \\x escape")
				}
				b = append(b, byte(v))
				p.i = j
			case '0', '1', '2', '3', '4', '5', '6', '7':
				j := p.i - 1
				k := j
				for k < len(p.s) && k < j+3 && p.s[k] >= '0' && p.s[k] <= '7' {
					k++
				}
				v, _ := strconv.ParseUint(string(p.s[j:k]), 8, 16)
				b = append(b, byte(v))
				p.i = k
			default:
				b = append(b, e)
			}
		default:
			b = append(b, c)
			p.i++
		}
		if len(b) > maxStr {
			b = b[:maxStr] // keep scanning to the closing quote
		}
	}
	return "", p.errf("unterminated string")
}

// DecodeText parses a text SavedModel or GraphDef and collects its nodes
// like Decode.
func DecodeText(ctx context.Context, src []byte, kind Kind) (*Graph, error) {
	p := &tparser{s: src, ctx: ctx}
	root, err := p.message(0, 0)
	if err != nil {
		return nil, err
	}
	g := &Graph{Kind: kind, scopes: map[string]map[string]*Node{}}
	switch kind {
	case SavedModel:
		for i, mg := range root.all("meta_graphs") {
			if mg.msg == nil {
				return g, fmt.Errorf("%w: meta_graphs is not a message", ErrText)
			}
			scope := fmt.Sprintf("meta_graph[%d]", i)
			if info, ok := mg.msg.first("meta_info_def"); ok && info.msg != nil {
				for _, t := range info.msg.all("tags") {
					g.Tags = append(g.Tags, t.str)
				}
			}
			for _, gd := range mg.msg.all("graph_def") {
				if gd.msg != nil {
					g.textGraph(gd.msg, scope)
				}
			}
			for _, a := range mg.msg.all("asset_file_def") {
				if a.msg == nil {
					continue
				}
				if fn, ok := a.msg.first("filename"); ok && unsafePath(fn.str) != "" {
					g.Flagged = append(g.Flagged, &Node{Scope: scope, Name: "asset_file_def", Op: assetOp,
						Const: fn.str, HasConst: true, Offset: a.off})
				}
			}
		}
	default:
		g.textGraph(root, "graph")
	}
	return g, nil
}

func (g *Graph) textGraph(m *tmsg, scope string) {
	for _, n := range m.all("node") {
		if n.msg != nil {
			g.add(textNode(n, scope))
		}
	}
	for _, lib := range m.all("library") {
		if lib.msg == nil {
			continue
		}
		for _, fn := range lib.msg.all("function") {
			if fn.msg == nil {
				continue
			}
			name := ""
			if sig, ok := fn.msg.first("signature"); ok && sig.msg != nil {
				if nm, ok := sig.msg.first("name"); ok {
					name = nm.str
				}
			}
			fscope := scope + "!function " + name
			for _, n := range fn.msg.all("node_def") {
				if n.msg != nil {
					g.add(textNode(n, fscope))
				}
			}
		}
	}
}

func textNode(f tfield, scope string) *Node {
	n := &Node{Scope: scope, Offset: f.off, Attrs: map[string]string{}}
	for _, x := range f.msg.fields {
		switch x.name {
		case "name":
			n.Name = x.str
		case "op":
			n.Op = x.str
		case "input":
			if len(n.Inputs) < maxInputs {
				n.Inputs = append(n.Inputs, x.str)
			}
		case "attr":
			if x.msg == nil {
				continue
			}
			key, _ := x.msg.first("key")
			val, ok := x.msg.first("value")
			if !ok || val.msg == nil {
				continue
			}
			if s, ok := val.msg.first("s"); ok {
				n.Attrs[key.str] = s.str
			}
			if l, ok := val.msg.first("list"); ok && l.msg != nil {
				var parts []string
				for _, s := range l.msg.all("s") {
					parts = append(parts, s.str)
				}
				if len(parts) > 0 {
					n.Attrs[key.str] = strings.Join(parts, ", ")
				}
			}
			if t, ok := val.msg.first("tensor"); ok && t.msg != nil && key.str == "value" {
				dt, _ := t.msg.first("dtype")
				if sv, ok := t.msg.first("string_val"); ok && (dt.str == "DT_STRING" || dt.str == "7") {
					n.Const, n.HasConst = sv.str, true
				}
			}
		}
	}
	return n
}

// add registers a decoded node: flagged ops for classification, constants
// and pass-through ops for path resolution.
func (g *Graph) add(n *Node) {
	g.Nodes++
	if _, flagged := ops[n.Op]; flagged && len(g.Flagged) < 10*maxFindings {
		g.Flagged = append(g.Flagged, n)
	}
	if n.Op == "Const" || passthrough[n.Op] || n.Op == "StringJoin" {
		m := g.scopes[n.Scope]
		if m == nil {
			m = map[string]*Node{}
			g.scopes[n.Scope] = m
		}
		m[n.Name] = n
	}
}
