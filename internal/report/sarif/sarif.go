// Package sarif writes a finding.Report as SARIF 2.1.0 (OASIS), shaped for
// GitHub code scanning: one run, the rules that fired in tool.driver.rules
// with GitHub's security-severity, results located in the scanned file,
// stable partial fingerprints, and inconclusive artifacts reported as tool
// execution notifications (so a run that could not verify a file says so).
//
// Findings inside a container member (a pickle inside a PyTorch zip) point
// at the container file, because that is what a repository holds; the member,
// the byte offset inside it and the opcode index go into the result's
// logicalLocations and properties and into the message text. A region's
// byteOffset is given only when the offset is in the file itself.
package sarif

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
)

const (
	// Version is the SARIF version written.
	Version = "2.1.0"
	// SchemaURI is the OASIS schema of SARIF 2.1.0 (errata 01).
	SchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// DefaultInformationURI is tool.driver.informationUri.
	DefaultInformationURI = "https://github.com/mlsec/mlsec"
	// ToolName is tool.driver.name; GitHub groups alerts by it.
	ToolName = "mlsec"
	// FingerprintKey names the partial fingerprint; the "/v1" is bumped if
	// the recipe changes, so old and new alerts are not matched wrongly.
	FingerprintKey = "mlsecFinding/v1"
	// SrcRoot is the uriBaseId of relative artifact paths.
	SrcRoot = "%SRCROOT%"
	// InconclusiveID identifies the notification for an inconclusive artifact.
	InconclusiveID = "MLSEC-INCONCLUSIVE"

	maxTags = 20
)

// Options tune the SARIF output.
type Options struct {
	// InformationURI overrides DefaultInformationURI.
	InformationURI string
}

// Encoder writes SARIF logs.
type Encoder struct{ opts Options }

// New returns a SARIF encoder.
func New(opts Options) *Encoder {
	if opts.InformationURI == "" {
		opts.InformationURI = DefaultInformationURI
	}
	return &Encoder{opts: opts}
}

// Level maps a severity to a SARIF level: critical and high are errors,
// medium a warning, low and info notes.
func Level(s finding.Severity) string {
	switch {
	case s >= finding.High:
		return "error"
	case s == finding.Medium:
		return "warning"
	default:
		return "note"
	}
}

// SecuritySeverity is GitHub's numeric severity (0.0-10.0, as a string):
// over 9.0 is critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
func SecuritySeverity(s finding.Severity) string {
	switch {
	case s >= finding.Critical:
		return "9.5"
	case s == finding.High:
		return "8.0"
	case s == finding.Medium:
		return "5.5"
	case s == finding.Low:
		return "3.0"
	default:
		return "0.0"
	}
}

// Encode writes r as a SARIF log: 2-space indented, trailing newline.
func (e *Encoder) Encode(w io.Writer, r *finding.Report) error {
	if r == nil {
		return errors.New("sarif report: nil report")
	}
	log, err := e.build(r)
	if err != nil {
		return fmt.Errorf("sarif report: %w", err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("sarif report: %w", err)
	}
	return nil
}

func (e *Encoder) build(r *finding.Report) (*sarifLog, error) {
	arts := sortedArtifacts(r.Artifacts)
	rn := run{
		Tool: tool{Driver: driver{
			Name:           ToolName,
			Version:        r.Tool.Version,
			InformationURI: e.opts.InformationURI,
			Rules:          []rule{},
		}},
		Artifacts: []artifact{},
		Results:   []result{},
	}

	artIndex := map[string]int{}
	for _, a := range arts {
		if _, dup := artIndex[a.Artifact.Path]; dup {
			continue
		}
		artIndex[a.Artifact.Path] = len(rn.Artifacts)
		rn.Artifacts = append(rn.Artifacts, newArtifact(a))
	}

	ruleIndex := map[string]int{}
	for _, id := range ruleIDs(arts) {
		ruleIndex[id] = len(rn.Tool.Driver.Rules)
		rn.Tool.Driver.Rules = append(rn.Tool.Driver.Rules, newRule(id, firstFinding(arts, id)))
	}

	inv := invocation{ExecutionSuccessful: true, ToolExecutionNotifications: []notification{}}
	if !r.StartedAt.IsZero() {
		start := r.StartedAt.UTC()
		inv.StartTimeUTC = start.Format(time.RFC3339Nano)
		inv.EndTimeUTC = start.Add(time.Duration(r.DurationMS) * time.Millisecond).Format(time.RFC3339Nano)
	}
	for _, a := range arts {
		loc := artifactLocation(a.Artifact.Path)
		idx := artIndex[a.Artifact.Path]
		loc.Index = &idx
		for _, f := range a.Findings {
			res, err := newResult(f, loc, ruleIndex[f.RuleID])
			if err != nil {
				return nil, err
			}
			rn.Results = append(rn.Results, res)
		}
		if a.Status != finding.StatusComplete && a.Status != finding.StatusSkipped {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, notification{
				Level:      "warning",
				Message:    message{Text: inconclusiveText(a)},
				Descriptor: &descriptorRef{ID: InconclusiveID},
				Locations:  []location{{PhysicalLocation: &physicalLocation{ArtifactLocation: loc}}},
				Properties: map[string]any{"status": string(a.Status), "gaps": nonNil(a.Gaps)},
			})
		}
	}
	if len(inv.ToolExecutionNotifications) > 0 {
		rn.Tool.Driver.Notifications = []rule{{
			ID:               InconclusiveID,
			Name:             "Inconclusive",
			ShortDescription: &mfString{Text: "An artifact could not be fully analysed and is not verified clean."},
			FullDescription: &mfString{Text: "Part of the artifact could not be parsed, was an unsupported variant, " +
				"or hit a scan limit. mlsec fails closed: such an artifact is inconclusive, never clean."},
			DefaultConfiguration: &config{Level: "warning"},
		}}
	}
	rn.Invocations = []invocation{inv}
	return &sarifLog{Schema: SchemaURI, Version: Version, Runs: []run{rn}}, nil
}

func newArtifact(a finding.ArtifactResult) artifact {
	out := artifact{
		Location: artifactLocation(a.Artifact.Path),
		Roles:    []string{"analysisTarget"},
		Properties: map[string]any{
			"status": string(a.Status),
		},
	}
	if a.Artifact.Size > 0 {
		size := a.Artifact.Size
		out.Length = &size
	}
	if a.Artifact.SHA256 != "" {
		out.Hashes = map[string]string{"sha-256": strings.ToLower(a.Artifact.SHA256)}
	}
	if a.Artifact.Format != "" {
		out.Properties["format"] = a.Artifact.Format
	}
	return out
}

func newRule(id string, f finding.Finding) rule {
	r, ok := finding.Lookup(id)
	if !ok {
		// A finding whose rule is not in the catalogue still gets a
		// descriptor, built from the finding itself.
		r = &finding.Rule{ID: id, Name: camel(f.Title), Title: f.Title, Severity: f.Severity,
			Summary: f.Description, Remediation: f.Remediation, References: f.References}
	}
	full := r.Summary
	if full == "" {
		full = r.Title
	}
	tags := []string{"security"}
	seen := map[string]bool{"security": true}
	for _, ref := range r.References {
		t := tag(ref)
		// GitHub keeps only the first 20 tags of a rule.
		if t != "" && !seen[t] && len(tags) < maxTags {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	return rule{
		ID:                   r.ID,
		Name:                 r.Name,
		ShortDescription:     &mfString{Text: r.Title},
		FullDescription:      &mfString{Text: full},
		HelpURI:              r.HelpURI(),
		Help:                 &mfString{Text: helpText(r), Markdown: helpMarkdown(r)},
		DefaultConfiguration: &config{Level: Level(r.Severity)},
		Properties: map[string]any{
			"tags":              tags,
			"security-severity": SecuritySeverity(r.Severity),
			"severity":          r.Severity.String(),
		},
	}
}

// tag turns a reference into a code-scanning tag; GitHub recognises the
// "external/cwe/cwe-NNN" form and shows the CWE.
func tag(ref finding.Reference) string {
	switch ref.Kind {
	case finding.RefCWE:
		return "external/cwe/" + strings.ToLower(ref.ID)
	case finding.RefATLAS:
		return "external/mitre-atlas/" + ref.ID
	case finding.RefOWASP:
		return "external/owasp-ml-top-10/" + ref.ID
	}
	return ""
}

func helpText(r *finding.Rule) string {
	var b strings.Builder
	b.WriteString(r.Title)
	if r.Summary != "" {
		b.WriteString("\n\n" + r.Summary)
	}
	if r.Remediation != "" {
		b.WriteString("\n\nRemediation: " + r.Remediation)
	}
	for i, ref := range r.References {
		if i == 0 {
			b.WriteString("\n\nReferences:")
		}
		b.WriteString("\n- " + ref.ID)
		if ref.URL != "" {
			b.WriteString(" " + ref.URL)
		}
	}
	return b.String()
}

func helpMarkdown(r *finding.Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s\n", r.ID, r.Title)
	if r.Summary != "" {
		b.WriteString("\n" + r.Summary + "\n")
	}
	if r.Doc != "" {
		b.WriteString("\n" + strings.TrimSpace(r.Doc) + "\n")
	}
	if r.Remediation != "" {
		b.WriteString("\n## Remediation\n\n" + r.Remediation + "\n")
	}
	if len(r.References) > 0 {
		b.WriteString("\n## References\n\n")
		for _, ref := range r.References {
			if ref.URL != "" {
				fmt.Fprintf(&b, "- [%s](%s)\n", ref.ID, ref.URL)
			} else {
				fmt.Fprintf(&b, "- %s\n", ref.ID)
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func newResult(f finding.Finding, loc artifactLoc, ruleIdx int) (result, error) {
	if f.Severity < finding.Info || f.Severity > finding.Critical {
		return result{}, fmt.Errorf("finding %s: invalid severity %d", f.RuleID, int(f.Severity))
	}
	l := f.Location
	reg := &region{StartLine: 1}
	if l.Member == "" {
		// Positions in the file itself; inside a member they would point at
		// the wrong bytes of the container, so those go to properties.
		if l.Line > 0 {
			reg.StartLine = l.Line
			if l.Column > 0 {
				reg.StartColumn = l.Column
			}
		}
		if l.Offset != nil && *l.Offset >= 0 {
			off := *l.Offset
			reg.ByteOffset = &off
		}
	}
	pl := &physicalLocation{ArtifactLocation: loc, Region: reg}
	sloc := location{PhysicalLocation: pl}
	props := map[string]any{"severity": f.Severity.String()}
	if l.Member != "" {
		sloc.LogicalLocations = []logicalLocation{{
			Name:               l.Member,
			FullyQualifiedName: f.Artifact.Path + "!" + l.Member,
			Kind:               "resource",
		}}
		props["member"] = l.Member
		if l.Offset != nil {
			props["memberOffset"] = *l.Offset
		}
		if l.Line > 0 {
			props["memberLine"] = l.Line
		}
	}
	if l.Opcode != nil {
		props["opcodeIndex"] = *l.Opcode
	}
	if l.Pointer != "" {
		props["pointer"] = l.Pointer
	}
	if len(f.Evidence.Fields) > 0 {
		props["evidence"] = f.Evidence.Fields
	}
	if f.Remediation != "" {
		props["remediation"] = f.Remediation
	}
	return result{
		RuleID:              f.RuleID,
		RuleIndex:           ruleIdx,
		Level:               Level(f.Severity),
		Message:             message{Text: messageText(f)},
		Locations:           []location{sloc},
		PartialFingerprints: map[string]string{FingerprintKey: Fingerprint(f)},
		Properties:          props,
	}, nil
}

// messageText is the title, where inside the file, and the evidence:
// "Dangerous call (in data.pkl at byte 64, opcode 12): os.system('true')".
func messageText(f finding.Finding) string {
	var where []string
	l := f.Location
	if l.Member != "" {
		where = append(where, "in "+l.Member)
	}
	if l.Offset != nil {
		where = append(where, fmt.Sprintf("at byte %d", *l.Offset))
	}
	if l.Member != "" && l.Line > 0 {
		where = append(where, fmt.Sprintf("line %d", l.Line))
	}
	if l.Opcode != nil {
		where = append(where, fmt.Sprintf("opcode %d", *l.Opcode))
	}
	s := f.Title
	if s == "" {
		s = f.RuleID
	}
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	if ev := strings.TrimSpace(f.Evidence.Text); ev != "" {
		s += ": " + ev
	}
	return s
}

// Fingerprint is a stable identity for a finding across runs: a SHA-256 of
// rule ID, slash-separated path, member and offset.
func Fingerprint(f finding.Finding) string {
	off := ""
	if f.Location.Offset != nil {
		off = strconv.FormatInt(*f.Location.Offset, 10)
	}
	h := sha256.New()
	for _, part := range []string{f.RuleID, filepath.ToSlash(f.Artifact.Path), f.Location.Member, off} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func inconclusiveText(a finding.ArtifactResult) string {
	s := a.Artifact.Path + ": inconclusive — not verified clean"
	if len(a.Gaps) > 0 {
		s += ": " + strings.Join(a.Gaps, "; ")
	}
	return s
}

// artifactLocation turns a path as the user gave it into a URI reference:
// relative paths stay relative to %SRCROOT% with forward slashes, absolute
// ones become file URIs; everything outside RFC 3986 pchar is escaped.
func artifactLocation(p string) artifactLoc {
	slashed := filepath.ToSlash(p)
	if vol := filepath.VolumeName(p); filepath.IsAbs(p) || vol != "" || strings.HasPrefix(slashed, "/") {
		if !strings.HasPrefix(slashed, "/") {
			slashed = "/" + slashed // file:///C:/x
		}
		return artifactLoc{URI: "file://" + escapePath(path.Clean(slashed), true)}
	}
	return artifactLoc{URI: escapePath(path.Clean(slashed), false), URIBaseID: SrcRoot}
}

// escapePath percent-encodes everything but RFC 3986 pchar and "/". In a
// relative reference ":" is escaped too, so "a:b" cannot read as a scheme.
func escapePath(p string, colonOK bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!$&'()*+,;=@/", c) >= 0,
			c == ':' && colonOK:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

func sortedArtifacts(in []finding.ArtifactResult) []finding.ArtifactResult {
	out := make([]finding.ArtifactResult, len(in))
	for i, a := range in {
		a.Findings = append([]finding.Finding(nil), a.Findings...)
		finding.SortFindings(a.Findings)
		out[i] = a
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Artifact.Path < out[j].Artifact.Path })
	return out
}

func ruleIDs(arts []finding.ArtifactResult) []string {
	seen := map[string]bool{}
	var ids []string
	for _, a := range arts {
		for _, f := range a.Findings {
			if !seen[f.RuleID] {
				seen[f.RuleID] = true
				ids = append(ids, f.RuleID)
			}
		}
	}
	sort.Strings(ids)
	return ids
}

func firstFinding(arts []finding.ArtifactResult, id string) finding.Finding {
	for _, a := range arts {
		for _, f := range a.Findings {
			if f.RuleID == id {
				return f
			}
		}
	}
	return finding.Finding{RuleID: id}
}

// camel makes a SARIF rule name from a title: "Dangerous call" -> "DangerousCall".
func camel(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			if up {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// The SARIF object model, only the parts mlsec writes.

type sarifLog struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []run  `json:"runs"`
}

type run struct {
	Tool        tool         `json:"tool"`
	Invocations []invocation `json:"invocations"`
	Artifacts   []artifact   `json:"artifacts"`
	Results     []result     `json:"results"`
}

type tool struct {
	Driver driver `json:"driver"`
}

type driver struct {
	Name           string `json:"name"`
	Version        string `json:"version,omitempty"`
	InformationURI string `json:"informationUri,omitempty"`
	Rules          []rule `json:"rules"`
	Notifications  []rule `json:"notifications,omitempty"`
}

// rule is a SARIF reportingDescriptor.
type rule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     *mfString      `json:"shortDescription,omitempty"`
	FullDescription      *mfString      `json:"fullDescription,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Help                 *mfString      `json:"help,omitempty"`
	DefaultConfiguration *config        `json:"defaultConfiguration,omitempty"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type mfString struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type config struct {
	Level string `json:"level"`
}

type invocation struct {
	ExecutionSuccessful        bool           `json:"executionSuccessful"`
	StartTimeUTC               string         `json:"startTimeUtc,omitempty"`
	EndTimeUTC                 string         `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []notification `json:"toolExecutionNotifications"`
}

type notification struct {
	Level      string         `json:"level"`
	Message    message        `json:"message"`
	Descriptor *descriptorRef `json:"descriptor,omitempty"`
	Locations  []location     `json:"locations,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

type descriptorRef struct {
	ID string `json:"id"`
}

type artifact struct {
	Location   artifactLoc       `json:"location"`
	Length     *int64            `json:"length,omitempty"`
	Roles      []string          `json:"roles,omitempty"`
	Hashes     map[string]string `json:"hashes,omitempty"`
	Properties map[string]any    `json:"properties,omitempty"`
}

type artifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
	Index     *int   `json:"index,omitempty"`
}

type result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             message           `json:"message"`
	Locations           []location        `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type message struct {
	Text string `json:"text"`
}

type location struct {
	PhysicalLocation *physicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []logicalLocation `json:"logicalLocations,omitempty"`
}

type physicalLocation struct {
	ArtifactLocation artifactLoc `json:"artifactLocation"`
	Region           *region     `json:"region,omitempty"`
}

type region struct {
	StartLine   int    `json:"startLine"`
	StartColumn int    `json:"startColumn,omitempty"`
	ByteOffset  *int64 `json:"byteOffset,omitempty"`
}

type logicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}
