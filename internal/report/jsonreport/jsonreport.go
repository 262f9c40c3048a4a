// Package jsonreport writes a finding.Report as JSON: the report's own
// fields, 2-space indented, one trailing newline. The format is versioned
// (finding.SchemaVersion) and described by schema/report.schema.json
// (JSON Schema draft 2020-12) so CI users can pin and validate it.
package jsonreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/mlsec/mlsec/internal/finding"
)

// Encoder writes JSON reports. The zero value is ready to use.
type Encoder struct{}

// New returns a JSON encoder.
func New() Encoder { return Encoder{} }

// Encode writes r as JSON. Nil slices and maps are written as empty arrays
// and objects (never null), so consumers need no null checks; nothing else
// is changed and r itself is not modified.
func (Encoder) Encode(w io.Writer, r *finding.Report) error {
	if r == nil {
		return errors.New("json report: nil report")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Evidence quotes code such as "a<b && c>d"; \u003c escapes only hurt
	// people reading the file and buy nothing outside HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(normalize(r)); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}

// normalize returns a shallow copy of r whose nil collections are empty.
func normalize(r *finding.Report) *finding.Report {
	c := *r
	if c.SchemaVersion == "" {
		c.SchemaVersion = finding.SchemaVersion
	}
	if c.Targets == nil {
		c.Targets = []string{}
	}
	c.Artifacts = make([]finding.ArtifactResult, len(r.Artifacts))
	for i, a := range r.Artifacts {
		if a.Findings == nil {
			a.Findings = []finding.Finding{}
		}
		c.Artifacts[i] = a
	}
	if c.Summary.BySeverity == nil {
		c.Summary.BySeverity = map[string]int{}
		for s := finding.Info; s <= finding.Critical; s++ {
			c.Summary.BySeverity[s.String()] = 0
		}
	}
	return &c
}
