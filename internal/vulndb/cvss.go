package vulndb

import (
	"fmt"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// Level is a qualitative severity: the CVSS v3/v4 rating scale.
type Level int

// Levels, least to most severe. Unknown means no usable score.
const (
	Unknown Level = iota
	None
	Low
	Medium
	High
	Critical
)

func (l Level) String() string {
	return [...]string{"unknown", "none", "low", "medium", "high", "critical"}[l]
}

// Rating maps a CVSS base score to its qualitative rating (CVSS v3.1 and
// v4.0 specification tables).
func Rating(score float64) Level {
	switch {
	case score <= 0:
		return None
	case score < 4:
		return Low
	case score < 7:
		return Medium
	case score < 9:
		return High
	default:
		return Critical
	}
}

// CVSSScore computes the base score of a CVSS v2, v3.0, v3.1 or v4.0
// vector (the spec formulas, via github.com/pandatix/go-cvss).
func CVSSScore(vector string) (float64, error) {
	vector = strings.TrimSpace(vector)
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("CVSS v4.0 vector %q: %w", vector, err)
		}
		return c.Score(), nil
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("CVSS v3.1 vector %q: %w", vector, err)
		}
		return c.BaseScore(), nil
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("CVSS v3.0 vector %q: %w", vector, err)
		}
		return c.BaseScore(), nil
	default:
		c, err := gocvss20.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("CVSS vector %q: %w", vector, err)
		}
		return c.BaseScore(), nil
	}
}

// Score is an advisory's severity and where it came from.
type Score struct {
	Level Level
	// Value is the CVSS base score (0 when Level came from text).
	Value float64
	// Vector is the CVSS vector used, or the textual source.
	Vector string
}

// Score derives the advisory's severity: the highest CVSS version
// present (v4 over v3 over v2; the highest score of that version, taken
// from the record and its affected entries), else GitHub's textual
// database severity, else Unknown.
func (a *Advisory) Score() Score {
	all := append([]Severity(nil), a.Severity...)
	for _, af := range a.Affected {
		all = append(all, af.Severity...)
	}
	for _, typ := range []string{"CVSS_V4", "CVSS_V3", "CVSS_V2"} {
		best := Score{}
		for _, s := range all {
			if s.Type != typ {
				continue
			}
			v, err := CVSSScore(s.Score)
			if err != nil {
				continue
			}
			if best.Vector == "" || v > best.Value {
				best = Score{Level: Rating(v), Value: v, Vector: s.Score}
			}
		}
		if best.Vector != "" {
			return best
		}
	}
	switch a.DatabaseSeverity {
	case "LOW":
		return Score{Level: Low, Vector: "database_specific.severity LOW"}
	case "MODERATE", "MEDIUM":
		return Score{Level: Medium, Vector: "database_specific.severity " + a.DatabaseSeverity}
	case "HIGH":
		return Score{Level: High, Vector: "database_specific.severity HIGH"}
	case "CRITICAL":
		return Score{Level: Critical, Vector: "database_specific.severity CRITICAL"}
	}
	return Score{}
}
