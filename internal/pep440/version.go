// Package pep440 implements Python package versions and version specifiers
// exactly as PEP 440 defines them (parsing, normalisation, ordering,
// ~=, ==, ===, !=, <, <=, >, >= with prefix matching and the pre-release and
// local-version rules), project name normalisation per PEP 503, and
// dependency specifiers (requirements and environment markers) per PEP 508.
//
// The behaviour follows the reference implementation in pypa/packaging;
// nothing here evaluates Python code.
package pep440

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrInvalidVersion is wrapped by every version parse error.
var ErrInvalidVersion = errors.New("invalid PEP 440 version")

// maxVersionLen bounds the input accepted as a version string.
const maxVersionLen = 256

// versionRE is PEP 440's appendix B pattern (VERSION_PATTERN).
var versionRE = regexp.MustCompile(`^(?i)v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?P<pre>[-_.]?(?P<pre_l>alpha|beta|preview|pre|a|b|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?` +
	`(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?` +
	`(?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`)

var reIdx = func() map[string]int {
	m := map[string]int{}
	for i, n := range versionRE.SubexpNames() {
		if n != "" {
			m[n] = i
		}
	}
	return m
}()

// Pre-release kinds in their canonical spelling, ordered a < b < rc.
const (
	PreAlpha = "a"
	PreBeta  = "b"
	PreRC    = "rc"
)

// Version is a parsed PEP 440 version. The zero value is not a valid
// version; use Parse.
type Version struct {
	Epoch   uint64
	Release []uint64
	// Pre is "", "a", "b" or "rc"; PreN its number.
	Pre  string
	PreN uint64
	// HasPost/HasDev say whether the segment is present (".post0" differs
	// from no post-release).
	HasPost bool
	Post    uint64
	HasDev  bool
	Dev     uint64
	// Local holds the local version label's segments, lower case.
	Local []string

	raw string
}

// Parse parses a version string. Leading and trailing white space is
// ignored; letters may be in any case.
func Parse(s string) (Version, error) {
	raw := s
	s = strings.TrimSpace(s)
	if len(s) > maxVersionLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidVersion, maxVersionLen)
	}
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%w: %q", ErrInvalidVersion, s)
	}
	g := func(n string) string { return m[reIdx[n]] }
	num := func(s string) (uint64, error) {
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: number %q out of range", ErrInvalidVersion, s)
		}
		return n, nil
	}
	v := Version{raw: raw}
	var err error
	if v.Epoch, err = num(g("epoch")); err != nil {
		return Version{}, err
	}
	for p := range strings.SplitSeq(g("release"), ".") {
		n, err := num(p)
		if err != nil {
			return Version{}, err
		}
		v.Release = append(v.Release, n)
	}
	if l := strings.ToLower(g("pre_l")); l != "" {
		switch l {
		case "a", "alpha":
			v.Pre = PreAlpha
		case "b", "beta":
			v.Pre = PreBeta
		default: // c, rc, pre, preview
			v.Pre = PreRC
		}
		if v.PreN, err = num(g("pre_n")); err != nil {
			return Version{}, err
		}
	}
	if g("post") != "" {
		v.HasPost = true
		n := g("post_n1")
		if n == "" {
			n = g("post_n2")
		}
		if v.Post, err = num(n); err != nil {
			return Version{}, err
		}
	}
	if g("dev") != "" {
		v.HasDev = true
		if v.Dev, err = num(g("dev_n")); err != nil {
			return Version{}, err
		}
	}
	if l := g("local"); l != "" {
		v.Local = strings.FieldsFunc(strings.ToLower(l), func(r rune) bool { return r == '.' || r == '-' || r == '_' })
	}
	return v, nil
}

// MustParse is Parse for constants; it panics on error.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Valid reports whether s is a PEP 440 version.
func Valid(s string) bool { _, err := Parse(s); return err == nil }

// Raw returns the string the version was parsed from.
func (v Version) Raw() string { return v.raw }

// String returns the normalised form ("1!2.0rc1.post2.dev3+ubuntu.1").
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != 0 {
		fmt.Fprintf(&b, "%d!", v.Epoch)
	}
	b.WriteString(v.releaseString())
	if v.Pre != "" {
		fmt.Fprintf(&b, "%s%d", v.Pre, v.PreN)
	}
	if v.HasPost {
		fmt.Fprintf(&b, ".post%d", v.Post)
	}
	if v.HasDev {
		fmt.Fprintf(&b, ".dev%d", v.Dev)
	}
	if len(v.Local) > 0 {
		b.WriteString("+")
		b.WriteString(strings.Join(v.Local, "."))
	}
	return b.String()
}

func (v Version) releaseString() string {
	parts := make([]string, len(v.Release))
	for i, r := range v.Release {
		parts[i] = strconv.FormatUint(r, 10)
	}
	return strings.Join(parts, ".")
}

// Public returns the version without its local label.
func (v Version) Public() Version {
	v.Local = nil
	return v
}

// Base returns the epoch and release only ("1!2.0").
func (v Version) Base() Version {
	return Version{Epoch: v.Epoch, Release: v.Release}
}

// IsPrerelease reports whether v is a pre-release or a development release.
func (v Version) IsPrerelease() bool { return v.Pre != "" || v.HasDev }

// IsPostrelease reports whether v has a post-release segment.
func (v Version) IsPostrelease() bool { return v.HasPost }

// IsZero reports whether v is the zero Version (not parsed).
func (v Version) IsZero() bool { return len(v.Release) == 0 }

// Compare returns -1, 0 or +1 as v sorts before, equal to or after w in
// PEP 440 order. Trailing zeros in the release are insignificant.
func (v Version) Compare(w Version) int {
	if c := cmp.Compare(v.Epoch, w.Epoch); c != 0 {
		return c
	}
	if c := cmpRelease(v.Release, w.Release); c != 0 {
		return c
	}
	if c := cmp.Compare(v.preKey(), w.preKey()); c != 0 {
		return c
	}
	if v.Pre != "" && w.Pre != "" {
		if c := cmp.Compare(v.PreN, w.PreN); c != 0 {
			return c
		}
	}
	// Post: absent sorts first.
	if c := cmpOpt(v.HasPost, v.Post, w.HasPost, w.Post, false); c != 0 {
		return c
	}
	// Dev: absent sorts last.
	if c := cmpOpt(v.HasDev, v.Dev, w.HasDev, w.Dev, true); c != 0 {
		return c
	}
	return cmpLocal(v.Local, w.Local)
}

// Equal reports whether v and w are the same version (Compare == 0).
func (v Version) Equal(w Version) bool { return v.Compare(w) == 0 }

// preKey orders the pre-release phase: a dev release of a final release
// (1.0.dev0) sorts before any pre-release; a final or post release after.
func (v Version) preKey() int {
	switch {
	case v.Pre == "" && !v.HasPost && v.HasDev:
		return -1
	case v.Pre == "":
		return 4
	case v.Pre == PreAlpha:
		return 1
	case v.Pre == PreBeta:
		return 2
	default:
		return 3
	}
}

func cmpRelease(a, b []uint64) int {
	n := max(len(a), len(b))
	for i := range n {
		var x, y uint64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// cmpOpt compares optional numbers; absentLast says where "absent" sorts.
func cmpOpt(hasA bool, a uint64, hasB bool, b uint64, absentLast bool) int {
	switch {
	case hasA && hasB:
		return cmp.Compare(a, b)
	case !hasA && !hasB:
		return 0
	case !hasA:
		if absentLast {
			return 1
		}
		return -1
	default:
		if absentLast {
			return -1
		}
		return 1
	}
}

// cmpLocal: no label sorts first; numeric segments sort after alphanumeric
// ones and compare as numbers; a shorter label that is a prefix sorts first.
func cmpLocal(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		an, aNum := localNum(a[i])
		bn, bNum := localNum(b[i])
		switch {
		case aNum && bNum:
			if c := cmpDigits(an, bn); c != 0 {
				return c
			}
		case aNum:
			return 1
		case bNum:
			return -1
		default:
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a), len(b))
}

func localNum(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	t := strings.TrimLeft(s, "0")
	return t, true
}

// cmpDigits compares decimal strings without leading zeros of any length.
func cmpDigits(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
