package pep440

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidMarker is wrapped by every marker parse error.
var ErrInvalidMarker = errors.New("invalid PEP 508 marker")

// maxMarkerDepth bounds parenthesis nesting in markers.
const maxMarkerDepth = 32

// MarkerVariables are the environment marker variables PEP 508 (and its
// later amendments: extras, dependency_groups) defines.
var MarkerVariables = map[string]bool{
	"python_version": true, "python_full_version": true, "os_name": true, "sys_platform": true,
	"platform_release": true, "platform_system": true, "platform_version": true,
	"platform_machine": true, "platform_python_implementation": true, "implementation_name": true,
	"implementation_version": true, "extra": true, "extras": true, "dependency_groups": true,
	// Legacy spellings still accepted by pip.
	"os.name": true, "sys.platform": true, "platform.version": true, "platform.machine": true,
	"platform.python_implementation": true, "python_implementation": true,
}

// Marker is a parsed environment marker expression.
type Marker struct {
	// Op is "and", "or" for a node with Left/Right, or a comparison
	// operator for a leaf with LHS/RHS.
	Op          string
	Left, Right *Marker
	LHS, RHS    MarkerValue
}

// MarkerValue is a variable name or a quoted string.
type MarkerValue struct {
	Var   string
	Value string
}

func (v MarkerValue) String() string {
	if v.Var != "" {
		return v.Var
	}
	if strings.Contains(v.Value, `"`) {
		return "'" + v.Value + "'"
	}
	return `"` + v.Value + `"`
}

// String renders the marker in a canonical form.
func (m *Marker) String() string {
	switch m.Op {
	case "and", "or":
		l, r := m.Left.String(), m.Right.String()
		if m.Op == "and" {
			if m.Left.Op == "or" {
				l = "(" + l + ")"
			}
			if m.Right.Op == "or" {
				r = "(" + r + ")"
			}
		}
		return l + " " + m.Op + " " + r
	}
	return m.LHS.String() + " " + m.Op + " " + m.RHS.String()
}

// ParseMarker parses a marker expression.
func ParseMarker(s string) (*Marker, error) {
	if len(s) > maxRequirementLen {
		return nil, fmt.Errorf("%w: too long", ErrInvalidMarker)
	}
	p := &markerParser{lexer: lexer{s: s}}
	m, err := p.or(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("%w: unexpected %q", ErrInvalidMarker, p.s[p.i:])
	}
	return m, nil
}

type markerParser struct{ lexer }

func (p *markerParser) keyword(k string) bool {
	p.ws()
	if strings.HasPrefix(p.s[p.i:], k) {
		end := p.i + len(k)
		if end == len(p.s) || !isNameByte(p.s[end]) {
			p.i = end
			return true
		}
	}
	return false
}

func (p *markerParser) or(depth int) (*Marker, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &Marker{Op: "or", Left: l, Right: r}
	}
	return l, nil
}

func (p *markerParser) and(depth int) (*Marker, error) {
	l, err := p.expr(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.expr(depth)
		if err != nil {
			return nil, err
		}
		l = &Marker{Op: "and", Left: l, Right: r}
	}
	return l, nil
}

func (p *markerParser) expr(depth int) (*Marker, error) {
	p.ws()
	if p.peek() == '(' {
		if depth >= maxMarkerDepth {
			return nil, fmt.Errorf("%w: nested deeper than %d", ErrInvalidMarker, maxMarkerDepth)
		}
		p.i++
		m, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.peek() != ')' {
			return nil, fmt.Errorf("%w: missing ')'", ErrInvalidMarker)
		}
		p.i++
		return m, nil
	}
	lhs, err := p.value()
	if err != nil {
		return nil, err
	}
	op, err := p.op()
	if err != nil {
		return nil, err
	}
	rhs, err := p.value()
	if err != nil {
		return nil, err
	}
	return &Marker{Op: op, LHS: lhs, RHS: rhs}, nil
}

func (p *markerParser) value() (MarkerValue, error) {
	p.ws()
	switch q := p.peek(); q {
	case '"', '\'':
		end := strings.IndexByte(p.s[p.i+1:], q)
		if end < 0 {
			return MarkerValue{}, fmt.Errorf("%w: unterminated string", ErrInvalidMarker)
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return MarkerValue{Value: v}, nil
	}
	name := p.take(func(c byte) bool { return isNameByte(c) })
	if !MarkerVariables[name] {
		return MarkerValue{}, fmt.Errorf("%w: unknown variable %q", ErrInvalidMarker, name)
	}
	return MarkerValue{Var: name}, nil
}

func (p *markerParser) op() (string, error) {
	p.ws()
	for _, op := range []string{"===", "==", "!=", "<=", ">=", "~=", "<", ">"} {
		if strings.HasPrefix(p.s[p.i:], op) {
			p.i += len(op)
			return op, nil
		}
	}
	if p.keyword("in") {
		return "in", nil
	}
	if p.keyword("not") {
		if p.keyword("in") {
			return "not in", nil
		}
	}
	return "", fmt.Errorf("%w: expected a comparison at %q", ErrInvalidMarker, p.s[p.i:])
}

// ErrUnknownVariable is returned by Evaluate for a variable the
// environment does not define.
var ErrUnknownVariable = errors.New("marker variable not set")

// Evaluate evaluates the marker in env (variable name → value). Version
// comparisons follow PEP 440 when both sides are versions, else they are
// string comparisons, as PEP 508 says.
func (m *Marker) Evaluate(env map[string]string) (bool, error) {
	switch m.Op {
	case "and", "or":
		l, err := m.Left.Evaluate(env)
		if err != nil {
			return false, err
		}
		if m.Op == "and" && !l || m.Op == "or" && l {
			return l, nil
		}
		return m.Right.Evaluate(env)
	}
	get := func(v MarkerValue) (string, error) {
		if v.Var == "" {
			return v.Value, nil
		}
		s, ok := env[v.Var]
		if !ok {
			return "", fmt.Errorf("%w: %s", ErrUnknownVariable, v.Var)
		}
		return s, nil
	}
	l, err := get(m.LHS)
	if err != nil {
		return false, err
	}
	r, err := get(m.RHS)
	if err != nil {
		return false, err
	}
	if m.LHS.Var == "extra" || m.RHS.Var == "extra" {
		l, r = NormalizeName(l), NormalizeName(r)
	}
	switch m.Op {
	case "in":
		return strings.Contains(r, l), nil
	case "not in":
		return !strings.Contains(r, l), nil
	}
	if sp, err := ParseSpecifier(m.Op + r); err == nil {
		if v, err := Parse(l); err == nil {
			return sp.Contains(v), nil
		}
	}
	switch m.Op {
	case "==", "===":
		return l == r, nil
	case "!=":
		return l != r, nil
	case "<":
		return l < r, nil
	case "<=":
		return l <= r, nil
	case ">":
		return l > r, nil
	case ">=":
		return l >= r, nil
	}
	return false, fmt.Errorf("%w: cannot compare %q %s %q", ErrInvalidMarker, l, m.Op, r)
}
