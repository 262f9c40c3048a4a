// Package jinja parses Jinja2 templates (the language of Hugging Face and
// GGUF chat templates) into a syntax tree, without rendering them, and
// finds the constructs that break out of Jinja's sandbox: dunder attribute
// access (the CVE-2024-34359 family), private attributes, dynamic
// attribute lookup and references to Python modules. The grammar follows
// jinja2's own lexer and parser closely enough that a template Jinja2
// accepts parses here; everything is bounded in size, depth and tokens.
package jinja

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what is parsed.
const (
	MaxTemplateSize = 1 << 20
	maxTokens       = 200_000
	maxDepth        = 200
)

// ErrSyntax marks a template that does not parse.
var ErrSyntax = errors.New("template syntax error")

// SyntaxError locates a parse failure.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap lets errors.Is match ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

type tokKind int

const (
	tEOF tokKind = iota
	tText
	tVarBegin
	tVarEnd
	tBlockBegin
	tBlockEnd
	tName
	tString
	tInt
	tFloat
	tOp
)

type token struct {
	kind tokKind
	val  string // name, operator, decoded string, number text, text
	line int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of template"
	case tVarBegin:
		return "'{{'"
	case tVarEnd:
		return "'}}'"
	case tBlockBegin:
		return "'{%'"
	case tBlockEnd:
		return "'%}'"
	case tString:
		return strconv.Quote(t.val)
	}
	return "'" + t.val + "'"
}

type lexer struct {
	src  string
	pos  int
	line int
	toks []token
}

func lex(src string) ([]token, error) {
	if len(src) > MaxTemplateSize {
		return nil, &SyntaxError{Line: 1, Msg: fmt.Sprintf("template larger than %d bytes", MaxTemplateSize)}
	}
	// Like jinja2 (keep_trailing_newline=False), one trailing newline is
	// not part of the template.
	src = strings.TrimSuffix(src, "\n")
	l := &lexer{src: src, line: 1}
	if err := l.run(); err != nil {
		return nil, err
	}
	l.toks = append(l.toks, token{kind: tEOF, line: l.line})
	return l.toks, nil
}

func (l *lexer) errf(format string, args ...any) error {
	return &SyntaxError{Line: l.line, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) emit(k tokKind, v string) error {
	if len(l.toks) >= maxTokens {
		return l.errf("more than %d tokens", maxTokens)
	}
	l.toks = append(l.toks, token{kind: k, val: v, line: l.line})
	return nil
}

func (l *lexer) advance(n int) {
	l.line += strings.Count(l.src[l.pos:l.pos+n], "\n")
	l.pos += n
}

func (l *lexer) run() error {
	for l.pos < len(l.src) {
		i := nextTagStart(l.src[l.pos:])
		if i < 0 {
			if err := l.emit(tText, l.src[l.pos:]); err != nil {
				return err
			}
			l.advance(len(l.src) - l.pos)
			return nil
		}
		if i > 0 {
			if err := l.emit(tText, l.src[l.pos:l.pos+i]); err != nil {
				return err
			}
			l.advance(i)
		}
		switch l.src[l.pos+1] {
		case '#':
			end := strings.Index(l.src[l.pos+2:], "#}")
			if end < 0 && l.pos+2 == len(l.src) {
				return nil // jinja2 ends without error on a final "{#"
			}
			if end < 0 {
				return l.errf("unclosed comment")
			}
			l.advance(end + 4)
		case '%':
			if n, ok := rawBlock(l.src[l.pos:]); ok {
				body, m, ok := findEndRaw(l.src[l.pos+n:])
				if !ok {
					return l.errf("missing endraw")
				}
				if err := l.emit(tText, body); err != nil {
					return err
				}
				l.advance(n + m)
				continue
			}
			if err := l.tag(tBlockBegin, tBlockEnd, "%}"); err != nil {
				return err
			}
		case '{':
			if err := l.tag(tVarBegin, tVarEnd, "}}"); err != nil {
				return err
			}
		}
	}
	return nil
}

// nextTagStart finds the next "{{", "{%" or "{#".
func nextTagStart(s string) int {
	off := 0
	for {
		i := strings.IndexByte(s[off:], '{')
		if i < 0 || off+i+1 >= len(s) {
			return -1
		}
		switch s[off+i+1] {
		case '{', '%', '#':
			return off + i
		}
		off += i + 1
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// rawBlock matches "{% raw %}" with optional whitespace control.
func rawBlock(s string) (int, bool) {
	i := 2
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	i = skipSpace(s, i)
	if !strings.HasPrefix(s[i:], "raw") {
		return 0, false
	}
	i = skipSpace(s, i+3)
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	if !strings.HasPrefix(s[i:], "%}") {
		return 0, false
	}
	return i + 2, true
}

// findEndRaw returns the raw body and the bytes consumed through endraw.
func findEndRaw(s string) (string, int, bool) {
	off := 0
	for {
		i := strings.Index(s[off:], "{%")
		if i < 0 {
			return "", 0, false
		}
		j := off + i + 2
		if j < len(s) && (s[j] == '-' || s[j] == '+') {
			j++
		}
		j = skipSpace(s, j)
		if strings.HasPrefix(s[j:], "endraw") {
			k := skipSpace(s, j+6)
			if k < len(s) && (s[k] == '-' || s[k] == '+') {
				k++
			}
			if strings.HasPrefix(s[k:], "%}") {
				return s[:off+i], k + 2, true
			}
		}
		off += i + 2
	}
}

var operators = []string{"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~",
	"[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"}

// tag lexes one "{{ … }}" or "{% … %}" tag.
func (l *lexer) tag(begin, endKind tokKind, end string) error {
	if err := l.emit(begin, ""); err != nil {
		return err
	}
	l.advance(2)
	if l.pos < len(l.src) && (l.src[l.pos] == '-' || l.src[l.pos] == '+') {
		l.advance(1)
	}
	var stack []byte
	for {
		l.advance(skipSpace(l.src, l.pos) - l.pos)
		if l.pos >= len(l.src) {
			return l.errf("unexpected end of template, expected %q", end)
		}
		rest := l.src[l.pos:]
		if len(stack) == 0 {
			if strings.HasPrefix(rest, end) {
				l.advance(len(end))
				return l.emit(endKind, "")
			}
			if (rest[0] == '-' || rest[0] == '+') && strings.HasPrefix(rest[1:], end) {
				l.advance(1 + len(end))
				return l.emit(endKind, "")
			}
		}
		c := rest[0]
		switch {
		case c == '\'' || c == '"':
			s, n, err := lexString(rest)
			if err != nil {
				return l.errf("%v", err)
			}
			if err := l.emit(tString, s); err != nil {
				return err
			}
			l.advance(n)
		case c >= '0' && c <= '9':
			n, kind := lexNumber(rest)
			if err := l.emit(kind, rest[:n]); err != nil {
				return err
			}
			l.advance(n)
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf:
			n := 0
			for n < len(rest) {
				r, w := utf8.DecodeRuneInString(rest[n:])
				if r == '_' || unicode.IsLetter(r) || (n > 0 && unicode.IsDigit(r)) {
					n += w
					continue
				}
				break
			}
			if n == 0 {
				return l.errf("unexpected character %q", rest[:1])
			}
			if err := l.emit(tName, rest[:n]); err != nil {
				return err
			}
			l.advance(n)
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(rest, o) {
					op = o
					break
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(rest)
				return l.errf("unexpected character %q", r)
			}
			switch op {
			case "(", "[", "{":
				if len(stack) >= maxDepth {
					return l.errf("brackets nested deeper than %d", maxDepth)
				}
				stack = append(stack, op[0])
			case ")", "]", "}":
				want := map[string]byte{")": '(', "]": '[', "}": '{'}[op]
				if len(stack) == 0 || stack[len(stack)-1] != want {
					return l.errf("unexpected %q", op)
				}
				stack = stack[:len(stack)-1]
			}
			if err := l.emit(tOp, op); err != nil {
				return err
			}
			l.advance(len(op))
		}
	}
}

func lexNumber(s string) (int, tokKind) {
	digits := func(i int, ok func(byte) bool) int {
		for i < len(s) && (ok(s[i]) || s[i] == '_' && i+1 < len(s) && ok(s[i+1])) {
			i++
		}
		return i
	}
	dec := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(s) > 2 && s[0] == '0' {
		var ok func(byte) bool
		switch s[1] | 0x20 {
		case 'b':
			ok = func(c byte) bool { return c == '0' || c == '1' }
		case 'o':
			ok = func(c byte) bool { return c >= '0' && c <= '7' }
		case 'x':
			ok = func(c byte) bool { return dec(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }
		}
		if ok != nil && (ok(s[2]) || s[2] == '_') {
			return digits(2, ok), tInt
		}
	}
	i := digits(0, dec)
	kind := tInt
	if i+1 < len(s) && s[i] == '.' && dec(s[i+1]) {
		i = digits(i+1, dec)
		kind = tFloat
	}
	if i < len(s) && s[i]|0x20 == 'e' {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && dec(s[j]) {
			i = digits(j, dec)
			kind = tFloat
		}
	}
	return i, kind
}

// lexString reads a quoted literal and decodes Python escapes the way
// jinja2 does (unicode-escape).
func lexString(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(s):
			n := unescape(s[i+1:], &b)
			i += 1 + n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, errors.New("unterminated string literal")
}

// unescape decodes one escape after a backslash, returning bytes consumed.
func unescape(s string, b *strings.Builder) int {
	simple := map[byte]string{'\\': "\\", '\'': "'", '"': "\"", 'n': "\n", 't': "\t", 'r': "\r",
		'a': "\a", 'b': "\b", 'f': "\f", 'v': "\v", '\n': ""}
	c := s[0]
	if v, ok := simple[c]; ok {
		b.WriteString(v)
		return 1
	}
	hex := func(n int) int {
		if len(s) < 1+n {
			return -1
		}
		v, err := strconv.ParseUint(s[1:1+n], 16, 32)
		if err != nil || v > unicode.MaxRune {
			return -1
		}
		b.WriteRune(rune(v))
		return 1 + n
	}
	switch c {
	case 'x':
		if n := hex(2); n > 0 {
			return n
		}
	case 'u':
		if n := hex(4); n > 0 {
			return n
		}
	case 'U':
		if n := hex(8); n > 0 {
			return n
		}
	case '0', '1', '2', '3', '4', '5', '6', '7':
		n := 1
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint(s[:n], 8, 32)
		b.WriteRune(rune(v))
		return n
	case 'N':
		if len(s) > 1 && s[1] == '{' {
			if j := strings.IndexByte(s, '}'); j > 0 {
				b.WriteString(unicodeName(s[2:j]))
				return j + 1
			}
		}
	}
	// Unknown escapes stay as written, as in Python.
	b.WriteByte('\\')
	b.WriteByte(c)
	return 1
}

// unicodeName resolves the few character names that matter for spotting
// obfuscated dunders; others are kept as a placeholder.
func unicodeName(n string) string {
	switch strings.ToUpper(n) {
	case "LOW LINE":
		return "_"
	case "FULL STOP":
		return "."
	}
	return "\\N{" + n + "}"
}
