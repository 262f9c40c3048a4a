// Package finding holds the types every mlsec analyzer produces and every
// consumer (reports, BOM, policy, server) reads: findings, their severities,
// locations and control references, the rule catalogue, and the per-artifact
// coverage that lets a scan fail closed.
package finding

import (
	"fmt"
	"strings"
)

// Severity orders how bad a finding is. The zero value is Info.
type Severity int

// Severities from least to most severe.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the lower-case name ("critical").
func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want critical, high, medium, low or info)", s)
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < Info || s > Critical {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Artifact identifies the top-level thing that was analysed.
type Artifact struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Format is the format detected from content, e.g. "pickle" or "pytorch-zip".
	Format string `json:"format,omitempty"`
}

// Location points inside an artifact. Offset and Opcode are pointers because
// zero is a valid value for both.
type Location struct {
	// Member is the path inside containers, nesting levels joined by "!"
	// (e.g. "model.pt!archive/data.pkl").
	Member string `json:"member,omitempty"`
	// Offset is the byte offset inside the member (or the file).
	Offset *int64 `json:"offset,omitempty"`
	// Line and Column are 1-based positions in text content.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Opcode is the index of a pickle opcode in its stream.
	Opcode *int `json:"opcode,omitempty"`
	// Pointer is a JSON pointer or similar path inside structured content.
	Pointer string `json:"pointer,omitempty"`
}

// At returns a copy of l with the byte offset set.
func (l Location) At(offset int64) Location { l.Offset = &offset; return l }

// AtOpcode returns a copy of l with the byte offset and opcode index set.
func (l Location) AtOpcode(offset int64, index int) Location {
	l.Offset, l.Opcode = &offset, &index
	return l
}

// Evidence is what a person reads (Text) plus the same facts for machines.
type Evidence struct {
	Text   string         `json:"text,omitempty"`
	Fields map[string]any `json:"fields,omitempty"`
}

// Finding is one thing an analyzer found.
type Finding struct {
	RuleID      string      `json:"rule_id"`
	Severity    Severity    `json:"severity"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Artifact    Artifact    `json:"artifact"`
	Location    Location    `json:"location"`
	Evidence    Evidence    `json:"evidence"`
	Remediation string      `json:"remediation,omitempty"`
	References  []Reference `json:"references,omitempty"`
}

// New starts a finding from a rule: ID, default severity, title, remediation
// and references come from the rule.
func New(r *Rule, a Artifact, loc Location) Finding {
	return Finding{
		RuleID:      r.ID,
		Severity:    r.Severity,
		Title:       r.Title,
		Description: r.Summary,
		Artifact:    a,
		Location:    loc,
		Remediation: r.Remediation,
		References:  append([]Reference(nil), r.References...),
	}
}

// Where renders the location for people: "path", "path!member@0x1f".
func (f Finding) Where() string {
	var b strings.Builder
	b.WriteString(f.Artifact.Path)
	if f.Location.Member != "" {
		b.WriteString("!")
		b.WriteString(f.Location.Member)
	}
	switch {
	case f.Location.Line > 0:
		fmt.Fprintf(&b, ":%d", f.Location.Line)
	case f.Location.Offset != nil:
		fmt.Fprintf(&b, "@%d", *f.Location.Offset)
	}
	return b.String()
}
