package pep440

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalidSpecifier is wrapped by every specifier parse error.
var ErrInvalidSpecifier = errors.New("invalid PEP 440 specifier")

// Operators of version specifiers.
const (
	OpCompatible = "~="
	OpEqual      = "=="
	OpNotEqual   = "!="
	OpLessEq     = "<="
	OpGreaterEq  = ">="
	OpLess       = "<"
	OpGreater    = ">"
	OpArbitrary  = "==="
)

// maxClauses bounds the clauses of one specifier set.
const maxClauses = 64

// Specifier is one clause such as ">=1.2" or "==2.*".
type Specifier struct {
	Op string
	// Version is the clause's version (for === the raw string is in Text).
	Version Version
	// Wildcard is set for "==V.*" and "!=V.*".
	Wildcard bool
	// Text is the version text as written (without the operator).
	Text string
}

// String renders the clause in normal form.
func (s Specifier) String() string {
	switch {
	case s.Op == OpArbitrary:
		return s.Op + s.Text
	case s.Wildcard:
		return s.Op + s.Version.String() + ".*"
	default:
		return s.Op + s.Version.String()
	}
}

var clauseRE = regexp.MustCompile(`^\s*(~=|===|==|!=|<=|>=|<|>)\s*(\S+?)\s*$`)

// ParseSpecifier parses one clause.
func ParseSpecifier(s string) (Specifier, error) {
	m := clauseRE.FindStringSubmatch(s)
	if m == nil {
		return Specifier{}, fmt.Errorf("%w: %q", ErrInvalidSpecifier, strings.TrimSpace(s))
	}
	sp := Specifier{Op: m[1], Text: m[2]}
	if sp.Op == OpArbitrary {
		if len(sp.Text) > maxVersionLen {
			return Specifier{}, fmt.Errorf("%w: version too long", ErrInvalidSpecifier)
		}
		return sp, nil
	}
	text := sp.Text
	if strings.HasSuffix(text, ".*") {
		if sp.Op != OpEqual && sp.Op != OpNotEqual {
			return Specifier{}, fmt.Errorf("%w: %q: .* only with == and !=", ErrInvalidSpecifier, s)
		}
		sp.Wildcard = true
		text = strings.TrimSuffix(text, ".*")
	}
	v, err := Parse(text)
	if err != nil {
		return Specifier{}, fmt.Errorf("%w: %q: %v", ErrInvalidSpecifier, strings.TrimSpace(s), err)
	}
	sp.Version = v
	switch {
	case sp.Wildcard && (v.Pre != "" || v.HasPost || v.HasDev || len(v.Local) > 0):
		return Specifier{}, fmt.Errorf("%w: %q: a prefix match takes a release only", ErrInvalidSpecifier, s)
	case len(v.Local) > 0 && sp.Op != OpEqual && sp.Op != OpNotEqual:
		return Specifier{}, fmt.Errorf("%w: %q: local versions only with == and !=", ErrInvalidSpecifier, s)
	case sp.Op == OpCompatible && len(v.Release) < 2:
		return Specifier{}, fmt.Errorf("%w: %q: ~= needs at least two release segments", ErrInvalidSpecifier, s)
	}
	return sp, nil
}

// Contains reports whether v satisfies the clause, ignoring the
// pre-release exclusion (that is a property of the set; see Set.Contains).
func (s Specifier) Contains(v Version) bool {
	switch s.Op {
	case OpArbitrary:
		return strings.EqualFold(strings.TrimSpace(v.raw), s.Text) || strings.EqualFold(v.String(), s.Text)
	case OpCompatible:
		prefix := Version{Epoch: s.Version.Epoch, Release: s.Version.Release[:len(s.Version.Release)-1]}
		return v.Public().Compare(s.Version) >= 0 && prefixMatch(v, prefix)
	case OpEqual:
		return s.equal(v)
	case OpNotEqual:
		return !s.equal(v)
	case OpLessEq:
		return v.Public().Compare(s.Version) <= 0
	case OpGreaterEq:
		return v.Public().Compare(s.Version) >= 0
	case OpLess:
		if v.Public().Compare(s.Version) >= 0 {
			return false
		}
		// <V excludes pre-releases of V unless V is one.
		if !s.Version.IsPrerelease() && v.IsPrerelease() && v.Base().Equal(s.Version.Base()) {
			return false
		}
		return true
	case OpGreater:
		if v.Public().Compare(s.Version) <= 0 {
			return false
		}
		// >V excludes post-releases of V unless V is one, and local
		// versions of V.
		if !s.Version.IsPostrelease() && v.IsPostrelease() && v.Base().Equal(s.Version.Base()) {
			return false
		}
		if len(v.Local) > 0 && v.Base().Equal(s.Version.Base()) {
			return false
		}
		return true
	}
	return false
}

func (s Specifier) equal(v Version) bool {
	if s.Wildcard {
		return prefixMatch(v, s.Version)
	}
	if len(s.Version.Local) == 0 {
		v = v.Public()
	}
	return v.Compare(s.Version) == 0
}

// prefixMatch: same epoch, and v's release padded with zeros starts with
// the prefix's release.
func prefixMatch(v, prefix Version) bool {
	if v.Epoch != prefix.Epoch {
		return false
	}
	for i, p := range prefix.Release {
		var x uint64
		if i < len(v.Release) {
			x = v.Release[i]
		}
		if x != p {
			return false
		}
	}
	return true
}

// Set is a comma-separated list of clauses; a version must satisfy all.
// The empty set allows every version.
type Set []Specifier

// ParseSet parses ">=1.0, !=1.3.*, <2" (white space anywhere).
func ParseSet(s string) (Set, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxClauses {
		return nil, fmt.Errorf("%w: more than %d clauses", ErrInvalidSpecifier, maxClauses)
	}
	out := make(Set, 0, len(parts))
	for _, p := range parts {
		sp, err := ParseSpecifier(p)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// String renders the set with clauses joined by ",".
func (s Set) String() string {
	parts := make([]string, len(s))
	for i, sp := range s {
		parts[i] = sp.String()
	}
	return strings.Join(parts, ",")
}

// Prereleases reports whether a clause names a pre-release, which lets the
// set admit pre-releases.
func (s Set) Prereleases() bool {
	for _, sp := range s {
		if sp.Op != OpArbitrary && sp.Op != OpNotEqual && sp.Version.IsPrerelease() {
			return true
		}
	}
	return false
}

// Contains reports whether v satisfies every clause. Pre-releases are
// admitted only when prereleases is true or a clause names one (PEP 440's
// default exclusion).
func (s Set) Contains(v Version, prereleases bool) bool {
	if v.IsPrerelease() && !prereleases && !s.Prereleases() {
		return false
	}
	for _, sp := range s {
		if !sp.Contains(v) {
			return false
		}
	}
	return true
}

// Pinned returns the single exact version the set allows, if it is one
// "==V" clause without wildcard or an "===V" clause whose text is a version.
func (s Set) Pinned() (Version, bool) {
	if len(s) != 1 {
		return Version{}, false
	}
	sp := s[0]
	switch {
	case sp.Op == OpEqual && !sp.Wildcard:
		return sp.Version, true
	case sp.Op == OpArbitrary:
		v, err := Parse(sp.Text)
		return v, err == nil
	}
	return Version{}, false
}
