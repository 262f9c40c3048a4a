package finding

import (
	"sort"
	"time"
)

// SchemaVersion is the version of the JSON report schema
// (schema/report.schema.json). Bump the minor for additions, the major for
// anything that can break a consumer.
const SchemaVersion = "1.0.0"

// Status is the coverage verdict for one artifact.
type Status string

const (
	// StatusComplete: every part of the artifact was analysed.
	StatusComplete Status = "complete"
	// StatusInconclusive: some part could not be analysed (parse error,
	// limit hit, unsupported variant). Never reported as clean.
	StatusInconclusive Status = "inconclusive"
	// StatusSkipped: not a format mlsec analyses (README, config text);
	// listed so nothing is silently dropped, but not counted as scanned.
	StatusSkipped Status = "skipped"
)

// ArtifactResult is what one top-level artifact yielded.
type ArtifactResult struct {
	Artifact Artifact  `json:"artifact"`
	Status   Status    `json:"status"`
	Gaps     []string  `json:"gaps,omitempty"`
	Findings []Finding `json:"findings"`
	// Members counts the container members that were analysed.
	Members    int   `json:"members,omitempty"`
	DurationMS int64 `json:"duration_ms"`
}

// Tool identifies the producer of a report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Report is the result of one run over one or more targets.
type Report struct {
	SchemaVersion string           `json:"schema_version"`
	Tool          Tool             `json:"tool"`
	StartedAt     time.Time        `json:"started_at"`
	DurationMS    int64            `json:"duration_ms"`
	Targets       []string         `json:"targets"`
	Artifacts     []ArtifactResult `json:"artifacts"`
	Summary       Summary          `json:"summary"`
}

// Summary counts what a report holds.
type Summary struct {
	Artifacts    int            `json:"artifacts"`
	Complete     int            `json:"complete"`
	Inconclusive int            `json:"inconclusive"`
	Skipped      int            `json:"skipped"`
	Findings     int            `json:"findings"`
	BySeverity   map[string]int `json:"by_severity"`
	// Highest is the most severe finding's severity; absent when none.
	Highest *Severity `json:"highest,omitempty"`
}

// Finalize sorts artifacts by path and findings by severity then location,
// and recomputes the summary. Call it once every artifact is in.
func (r *Report) Finalize() {
	if r.SchemaVersion == "" {
		r.SchemaVersion = SchemaVersion
	}
	sort.SliceStable(r.Artifacts, func(i, j int) bool { return r.Artifacts[i].Artifact.Path < r.Artifacts[j].Artifact.Path })
	s := Summary{BySeverity: map[string]int{}}
	for _, n := range severityNames {
		s.BySeverity[n] = 0
	}
	for i := range r.Artifacts {
		a := &r.Artifacts[i]
		if a.Findings == nil {
			a.Findings = []Finding{}
		}
		SortFindings(a.Findings)
		s.Artifacts++
		switch a.Status {
		case StatusComplete:
			s.Complete++
		case StatusSkipped:
			s.Skipped++
		default:
			s.Inconclusive++
		}
		for _, f := range a.Findings {
			s.Findings++
			s.BySeverity[f.Severity.String()]++
			if s.Highest == nil || f.Severity > *s.Highest {
				sev := f.Severity
				s.Highest = &sev
			}
		}
	}
	r.Summary = s
}

// SortFindings orders findings most severe first, then by member, offset and rule.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Location.Member != b.Location.Member {
			return a.Location.Member < b.Location.Member
		}
		ao, bo := int64(-1), int64(-1)
		if a.Location.Offset != nil {
			ao = *a.Location.Offset
		}
		if b.Location.Offset != nil {
			bo = *b.Location.Offset
		}
		if ao != bo {
			return ao < bo
		}
		return a.RuleID < b.RuleID
	})
}

// AllFindings returns every finding in the report, in report order.
func (r *Report) AllFindings() []Finding {
	var out []Finding
	for _, a := range r.Artifacts {
		out = append(out, a.Findings...)
	}
	return out
}

// AtOrAbove reports whether any finding has severity >= min.
func (r *Report) AtOrAbove(min Severity) bool {
	for _, a := range r.Artifacts {
		for _, f := range a.Findings {
			if f.Severity >= min {
				return true
			}
		}
	}
	return false
}
