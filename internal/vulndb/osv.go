// Package vulndb is mlsec's offline vulnerability database: OSV records
// (https://ossf.github.io/osv-schema/) imported from an osv.dev ecosystem
// export (PyPI's all.zip) or a directory of OSV JSON/YAML files into a local
// SQLite file, and matched against package versions and version ranges with
// PEP 440 semantics. Scans only read the file; nothing here touches the
// network.
package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/pep440"
)

// EcosystemPyPI is the OSV ecosystem name of the Python Package Index.
const EcosystemPyPI = "PyPI"

// Advisory is the part of an OSV record mlsec keeps.
type Advisory struct {
	ID        string     `json:"id"`
	Aliases   []string   `json:"aliases,omitempty"`
	Related   []string   `json:"related,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Details   string     `json:"details,omitempty"`
	Published time.Time  `json:"published,omitzero"`
	Modified  time.Time  `json:"modified,omitzero"`
	Withdrawn time.Time  `json:"withdrawn,omitzero"`
	Severity  []Severity `json:"severity,omitempty"`
	// DatabaseSeverity is a textual severity from database_specific
	// (GitHub's "LOW", "MODERATE", "HIGH", "CRITICAL").
	DatabaseSeverity string     `json:"database_severity,omitempty"`
	Affected         []Affected `json:"affected"`
	References       []string   `json:"references,omitempty"`
}

// Severity is one OSV severity entry: a type such as CVSS_V3 and a vector.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one affected package of an advisory.
type Affected struct {
	Ecosystem string     `json:"ecosystem"`
	Name      string     `json:"name"`
	Ranges    []Range    `json:"ranges,omitempty"`
	Versions  []string   `json:"versions,omitempty"`
	Severity  []Severity `json:"severity,omitempty"`
}

// Range is an OSV range of type ECOSYSTEM, SEMVER or GIT.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// IsMalicious reports whether the advisory is a malicious-package report
// (OpenSSF malicious-packages, "MAL-" identifiers).
func (a *Advisory) IsMalicious() bool {
	if strings.HasPrefix(a.ID, "MAL-") {
		return true
	}
	for _, al := range a.Aliases {
		if strings.HasPrefix(al, "MAL-") {
			return true
		}
	}
	return false
}

// IsWithdrawn reports whether the advisory has been withdrawn.
func (a *Advisory) IsWithdrawn() bool { return !a.Withdrawn.IsZero() }

// osvRecord is the OSV schema subset read on import.
type osvRecord struct {
	SchemaVersion string          `json:"schema_version"`
	ID            string          `json:"id"`
	Modified      string          `json:"modified"`
	Published     string          `json:"published"`
	Withdrawn     string          `json:"withdrawn"`
	Aliases       []string        `json:"aliases"`
	Related       []string        `json:"related"`
	Summary       string          `json:"summary"`
	Details       string          `json:"details"`
	Severity      []Severity      `json:"severity"`
	DatabaseSpec  json.RawMessage `json:"database_specific"`
	References    []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"references"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
			Purl      string `json:"purl"`
		} `json:"package"`
		Severity []Severity `json:"severity"`
		Ranges   []struct {
			Type   string           `json:"type"`
			Events []map[string]any `json:"events"`
		} `json:"ranges"`
		Versions []any `json:"versions"`
	} `json:"affected"`
}

// Limits on what one record may hold.
const (
	maxRecordSize = 32 << 20
	maxDetails    = 4096
	maxReferences = 20
	maxAffected   = 10_000
)

// ErrInvalidRecord is wrapped by errors about a malformed OSV record.
var ErrInvalidRecord = errors.New("invalid OSV record")

// ParseRecord decodes one OSV JSON record into an Advisory. Package names
// of ecosystem PyPI are normalised per PEP 503.
func ParseRecord(b []byte) (*Advisory, error) {
	if len(b) > maxRecordSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidRecord, maxRecordSize)
	}
	var r osvRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	if r.ID == "" {
		return nil, fmt.Errorf("%w: no id", ErrInvalidRecord)
	}
	if len(r.Affected) > maxAffected {
		return nil, fmt.Errorf("%w: %s: more than %d affected entries", ErrInvalidRecord, r.ID, maxAffected)
	}
	a := &Advisory{
		ID: r.ID, Aliases: r.Aliases, Related: r.Related, Summary: r.Summary,
		Details: truncate(r.Details, maxDetails), Severity: r.Severity,
	}
	var err error
	if a.Modified, err = parseTime(r.Modified); err != nil {
		return nil, fmt.Errorf("%w: %s: modified: %v", ErrInvalidRecord, r.ID, err)
	}
	a.Published, _ = parseTime(r.Published)
	if a.Withdrawn, err = parseTime(r.Withdrawn); err != nil {
		return nil, fmt.Errorf("%w: %s: withdrawn: %v", ErrInvalidRecord, r.ID, err)
	}
	if len(r.DatabaseSpec) > 0 {
		var ds struct {
			Severity any `json:"severity"`
		}
		if json.Unmarshal(r.DatabaseSpec, &ds) == nil {
			if s, ok := ds.Severity.(string); ok {
				a.DatabaseSeverity = strings.ToUpper(s)
			}
		}
	}
	for i, ref := range r.References {
		if i >= maxReferences {
			break
		}
		a.References = append(a.References, ref.URL)
	}
	for _, af := range r.Affected {
		x := Affected{Ecosystem: af.Package.Ecosystem, Name: af.Package.Name, Severity: af.Severity}
		if x.Ecosystem == EcosystemPyPI {
			x.Name = pep440.NormalizeName(x.Name)
		}
		for _, rg := range af.Ranges {
			xr := Range{Type: rg.Type}
			for _, ev := range rg.Events {
				var e Event
				for k, v := range ev {
					s := scalar(v)
					switch k {
					case "introduced":
						e.Introduced = s
					case "fixed":
						e.Fixed = s
					case "last_affected":
						e.LastAffected = s
					case "limit":
						e.Limit = s
					}
				}
				xr.Events = append(xr.Events, e)
			}
			x.Ranges = append(x.Ranges, xr)
		}
		for _, v := range af.Versions {
			x.Versions = append(x.Versions, scalar(v))
		}
		a.Affected = append(a.Affected, x)
	}
	return a, nil
}

// scalar renders a JSON scalar as a string (versions are strings in OSV,
// but YAML-converted records may carry numbers).
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// IDs returns the advisory's ID followed by its aliases.
func (a *Advisory) IDs() []string { return append([]string{a.ID}, a.Aliases...) }

// affectedFor returns the affected entries for a PyPI package.
func (a *Advisory) affectedFor(name string) []Affected {
	var out []Affected
	for _, af := range a.Affected {
		if af.Ecosystem == EcosystemPyPI && af.Name == name {
			out = append(out, af)
		}
	}
	return out
}

// interval is a half-open or closed stretch of the PEP 440 order.
type interval struct {
	lo       pep440.Version // zero: from the beginning
	hi       pep440.Version // zero: unbounded
	hiClosed bool           // last_affected (inclusive)
}

func (iv interval) contains(v pep440.Version) bool {
	if !iv.lo.IsZero() && v.Compare(iv.lo) < 0 {
		return false
	}
	if iv.hi.IsZero() {
		return true
	}
	c := v.Compare(iv.hi)
	return c < 0 || c == 0 && iv.hiClosed
}

// intervals turns ECOSYSTEM/SEMVER range events into intervals, following
// OSV's evaluation: events sorted by version, introduced opens, fixed and
// last_affected close. Events that are not PEP 440 versions are skipped
// (an unparsable "fixed" thus widens the range: the conservative choice).
func (r Range) intervals() []interval {
	if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
		return nil
	}
	type ev struct {
		v    pep440.Version
		kind int // 0 introduced, 1 fixed, 2 last_affected
	}
	var evs []ev
	for _, e := range r.Events {
		switch {
		case e.Introduced != "":
			if e.Introduced == "0" {
				evs = append(evs, ev{kind: 0})
			} else if v, err := pep440.Parse(e.Introduced); err == nil {
				evs = append(evs, ev{v: v, kind: 0})
			}
		case e.Fixed != "":
			if v, err := pep440.Parse(e.Fixed); err == nil {
				evs = append(evs, ev{v: v, kind: 1})
			}
		case e.LastAffected != "":
			if v, err := pep440.Parse(e.LastAffected); err == nil {
				evs = append(evs, ev{v: v, kind: 2})
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.v.IsZero() || b.v.IsZero() {
			return a.v.IsZero() && !b.v.IsZero()
		}
		return a.v.Compare(b.v) < 0
	})
	var out []interval
	var cur *interval
	for _, e := range evs {
		switch e.kind {
		case 0:
			if cur == nil {
				cur = &interval{lo: e.v}
			}
		default:
			if cur != nil {
				cur.hi, cur.hiClosed = e.v, e.kind == 2
				out = append(out, *cur)
				cur = nil
			}
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// AffectsVersion reports whether version v of PyPI package name (PEP 503
// normalised) is affected.
func (a *Advisory) AffectsVersion(name string, v pep440.Version) bool {
	for _, af := range a.affectedFor(name) {
		if af.affects(v) {
			return true
		}
	}
	return false
}

func (af Affected) affects(v pep440.Version) bool {
	for _, s := range af.Versions {
		if w, err := pep440.Parse(s); err == nil && w.Compare(v) == 0 {
			return true
		} else if err != nil && s == v.Raw() {
			return true
		}
	}
	for _, r := range af.Ranges {
		for _, iv := range r.intervals() {
			if iv.contains(v) {
				return true
			}
		}
	}
	return false
}

// AffectedAllowed returns the affected versions an unpinned requirement
// admits: listed versions that satisfy set, and, for ranges, whether any
// version of the range satisfies set. The boolean is true if any is.
// Candidate points are the range's lower bound (and its final release)
// and the clause boundaries of set with their successors, which together
// contain the left end of every stretch of the PEP 440 order the set
// admits.
func (a *Advisory) AffectedAllowed(name string, set pep440.Set) ([]string, bool) {
	pre := set.Prereleases()
	var listed []string
	any := false
	var cands []pep440.Version
	for _, sp := range set {
		if sp.Op == pep440.OpArbitrary || sp.Version.IsZero() {
			continue
		}
		cands = append(cands, sp.Version, successor(sp.Version), bump(sp.Version))
	}
	for _, af := range a.affectedFor(name) {
		for _, s := range af.Versions {
			if v, err := pep440.Parse(s); err == nil && set.Contains(v, pre) {
				listed = append(listed, v.String())
				any = true
			}
		}
		for _, r := range af.Ranges {
			for _, iv := range r.intervals() {
				pts := append([]pep440.Version{iv.lo, iv.lo.Base()}, cands...)
				if iv.lo.IsZero() {
					pts[0], pts[1] = pep440.MustParse("0"), pep440.MustParse("0")
				}
				for _, c := range pts {
					if iv.contains(c) && set.Contains(c, pre) {
						any = true
						break
					}
				}
			}
		}
	}
	slices.SortFunc(listed, func(x, y string) int { return pep440.MustParse(x).Compare(pep440.MustParse(y)) })
	return slices.Compact(listed), any
}

// successor is a final release just above v's release (v.release + ".1"):
// the first candidate ">v" admits that is not a post-release of v.
func successor(v pep440.Version) pep440.Version {
	rel := append(slices.Clone(v.Release), 1)
	return pep440.Version{Epoch: v.Epoch, Release: rel}
}

// bump is the next release at v's last release segment: the first version
// after a prefix exclusion "!=v.*".
func bump(v pep440.Version) pep440.Version {
	rel := slices.Clone(v.Release)
	rel[len(rel)-1]++
	return pep440.Version{Epoch: v.Epoch, Release: rel}
}

// NearestFix returns the smallest "fixed" version above v in the
// package's ranges, or "" if there is none.
func (a *Advisory) NearestFix(name string, v pep440.Version) string {
	var best pep440.Version
	for _, af := range a.affectedFor(name) {
		for _, r := range af.Ranges {
			if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
				continue
			}
			for _, e := range r.Events {
				if e.Fixed == "" {
					continue
				}
				f, err := pep440.Parse(e.Fixed)
				if err != nil || f.Compare(v) <= 0 {
					continue
				}
				if best.IsZero() || f.Compare(best) < 0 {
					best = f
				}
			}
		}
	}
	if best.IsZero() {
		return ""
	}
	return best.String()
}

// Fixes returns every fixed version named for the package, ascending.
func (a *Advisory) Fixes(name string) []string {
	var vs []pep440.Version
	for _, af := range a.affectedFor(name) {
		for _, r := range af.Ranges {
			for _, e := range r.Events {
				if f, err := pep440.Parse(e.Fixed); e.Fixed != "" && err == nil && (r.Type == "ECOSYSTEM" || r.Type == "SEMVER") {
					vs = append(vs, f)
				}
			}
		}
	}
	slices.SortFunc(vs, pep440.Version.Compare)
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if s := v.String(); len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}
