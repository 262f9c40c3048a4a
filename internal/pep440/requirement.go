package pep440

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalidRequirement is wrapped by every requirement parse error.
var ErrInvalidRequirement = errors.New("invalid PEP 508 requirement")

// maxRequirementLen bounds one requirement string.
const maxRequirementLen = 8192

// Requirement is a PEP 508 dependency specifier:
// name [extras] (specifiers | @ url) [; marker].
type Requirement struct {
	// Name is as written; use Normalized for comparisons.
	Name      string
	Extras    []string
	Specifier Set
	URL       string
	Marker    *Marker
}

// Normalized returns the PEP 503 normal form of the name.
func (r Requirement) Normalized() string { return NormalizeName(r.Name) }

// String renders the requirement in a canonical form.
func (r Requirement) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if len(r.Extras) > 0 {
		b.WriteString("[" + strings.Join(r.Extras, ",") + "]")
	}
	if r.URL != "" {
		b.WriteString(" @ " + r.URL)
		if r.Marker != nil {
			b.WriteString(" ")
		}
	} else {
		b.WriteString(r.Specifier.String())
	}
	if r.Marker != nil {
		b.WriteString("; " + r.Marker.String())
	}
	return b.String()
}

// ParseRequirement parses one PEP 508 dependency specifier.
func ParseRequirement(s string) (Requirement, error) {
	if len(s) > maxRequirementLen {
		return Requirement{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidRequirement, maxRequirementLen)
	}
	p := &lexer{s: s}
	var r Requirement
	p.ws()
	r.Name = p.take(isNameByte)
	if r.Name == "" || !ValidName(r.Name) {
		return Requirement{}, fmt.Errorf("%w: %q: missing or invalid name", ErrInvalidRequirement, s)
	}
	p.ws()
	if p.peek() == '[' {
		p.i++
		for {
			p.ws()
			if p.peek() == ']' {
				p.i++
				break
			}
			e := p.take(isNameByte)
			if e == "" || !ValidName(e) {
				return Requirement{}, fmt.Errorf("%w: %q: invalid extra", ErrInvalidRequirement, s)
			}
			r.Extras = append(r.Extras, NormalizeName(e))
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
			case ']':
			default:
				return Requirement{}, fmt.Errorf("%w: %q: unterminated extras", ErrInvalidRequirement, s)
			}
		}
		sort.Strings(r.Extras)
		p.ws()
	}
	switch p.peek() {
	case '@':
		p.i++
		p.ws()
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != '\t' {
			p.i++
		}
		r.URL = p.s[start:p.i]
		if r.URL == "" {
			return Requirement{}, fmt.Errorf("%w: %q: empty URL", ErrInvalidRequirement, s)
		}
		p.ws()
		// A marker after a URL must be separated by white space, which
		// the URL scan above guarantees (';' inside the URL is kept).
		if strings.HasSuffix(r.URL, ";") {
			r.URL = strings.TrimSuffix(r.URL, ";")
			p.i--
		}
	default:
		paren := false
		if p.peek() == '(' {
			paren = true
			p.i++
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ';' && p.s[p.i] != ')' {
			p.i++
		}
		spec := p.s[start:p.i]
		if paren {
			if p.peek() != ')' {
				return Requirement{}, fmt.Errorf("%w: %q: unbalanced parenthesis", ErrInvalidRequirement, s)
			}
			p.i++
		}
		set, err := ParseSet(spec)
		if err != nil {
			return Requirement{}, fmt.Errorf("%w: %q: %v", ErrInvalidRequirement, s, err)
		}
		r.Specifier = set
	}
	p.ws()
	if p.peek() == ';' {
		p.i++
		m, err := ParseMarker(p.s[p.i:])
		if err != nil {
			return Requirement{}, fmt.Errorf("%w: %q: %v", ErrInvalidRequirement, s, err)
		}
		r.Marker = m
		p.i = len(p.s)
	}
	p.ws()
	if p.i != len(p.s) {
		return Requirement{}, fmt.Errorf("%w: %q: unexpected %q", ErrInvalidRequirement, s, p.s[p.i:])
	}
	return r, nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

type lexer struct {
	s string
	i int
}

func (p *lexer) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *lexer) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *lexer) take(ok func(byte) bool) string {
	start := p.i
	for p.i < len(p.s) && ok(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}
