package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

// Limits on uploaded evidence.
const (
	MaxEvidenceSize     = 64 << 20
	maxFindingsPerScan  = 200_000
	maxFindingDetail    = 32 << 10
	maxSummaryEntries   = 24
	maxPolicyReasons    = 50
	maxIncidentText     = 4 << 10
	maxNameLen          = 256
	evidenceMediaType   = "application/json"
	reportMediaType     = "application/vnd.mlsec.report+json"
	cyclonedxMediaType  = "application/vnd.cyclonedx+json"
	EvidenceScan        = "scan"
	EvidenceBOM         = "bom"
	EvidencePolicy      = "policy"
	EvidenceFairness    = "fairness"
	EvidenceRobustness  = "robustness"
	EvidenceSignature   = "signature"
	EvidenceOther       = "other"
	incidentSourcePol   = "policy"
	incidentSourceGate  = "gateway"
	incidentSourceHuman = "manual"
)

// EvidenceKinds lists the kinds of evidence the server understands.
var EvidenceKinds = []string{EvidenceScan, EvidenceBOM, EvidencePolicy, EvidenceFairness, EvidenceRobustness, EvidenceSignature, EvidenceOther}

// badRequest marks client errors in uploads.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// VersionMeta names the model version a report or evidence is about.
type VersionMeta struct {
	Model     string   `json:"model"`
	Version   string   `json:"version"`
	Owner     string   `json:"owner,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	SourceURI string   `json:"source_uri,omitempty"`
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func digestOf(b []byte) string { h := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(h[:]) }

// parseReport decodes an mlsec JSON report and checks its shape.
func parseReport(data []byte) (*finding.Report, error) {
	var rep finding.Report
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&rep); err != nil {
		return nil, badf("not an mlsec JSON report: %v", err)
	}
	if !strings.HasPrefix(rep.SchemaVersion, "1.") {
		return nil, badf("unsupported report schema_version %q (want 1.x)", rep.SchemaVersion)
	}
	n := 0
	for _, a := range rep.Artifacts {
		n += len(a.Findings)
	}
	if n > maxFindingsPerScan {
		return nil, badf("report has %d findings (max %d)", n, maxFindingsPerScan)
	}
	return &rep, nil
}

// defaultMeta fills the model name and version from the report when the
// uploader did not give them: the first target's base name, and the
// first artifact's digest prefix.
func defaultMeta(m VersionMeta, rep *finding.Report) VersionMeta {
	if m.Model == "" && len(rep.Targets) > 0 {
		m.Model = path.Base(strings.ReplaceAll(strings.TrimRight(rep.Targets[0], "/\\"), "\\", "/"))
	}
	if m.Version == "" {
		for _, a := range rep.Artifacts {
			if d := strings.TrimPrefix(a.Artifact.SHA256, "sha256:"); len(d) >= 12 {
				m.Version = "sha256-" + d[:12]
				break
			}
		}
	}
	if m.Version == "" && !rep.StartedAt.IsZero() {
		m.Version = rep.StartedAt.UTC().Format("20060102T150405Z")
	}
	if m.SourceURI == "" && len(rep.Targets) == 1 {
		m.SourceURI = rep.Targets[0]
	}
	return m
}

// ingestReport records a scan report as the findings of a model version.
func (s *Server) ingestReport(ctx context.Context, actor string, meta VersionMeta, data []byte, reason string) (store.Model, store.ModelVersion, error) {
	rep, err := parseReport(data)
	if err != nil {
		return store.Model{}, store.ModelVersion{}, err
	}
	meta = defaultMeta(meta, rep)
	if !validName(meta.Model) || !validName(meta.Version) {
		return store.Model{}, store.ModelVersion{}, badf("model name and version are required (1–%d printable characters)", maxNameLen)
	}
	in := store.VersionInput{Model: meta.Model, Owner: meta.Owner, Tags: meta.Tags, Version: meta.Version, SourceURI: meta.SourceURI, Status: string(finding.StatusComplete)}
	var fs []store.FindingInput
	formats := map[string]bool{}
	for _, a := range rep.Artifacts {
		if a.Status == finding.StatusInconclusive {
			in.Status = string(finding.StatusInconclusive)
		}
		if a.Status == finding.StatusSkipped {
			continue
		}
		in.Size += a.Artifact.Size
		if a.Artifact.Format != "" {
			formats[a.Artifact.Format] = true
		}
		for _, f := range a.Findings {
			fs = append(fs, findingInput(f))
		}
	}
	if len(rep.Artifacts) == 1 && rep.Artifacts[0].Artifact.SHA256 != "" {
		in.Digest = "sha256:" + strings.TrimPrefix(rep.Artifacts[0].Artifact.SHA256, "sha256:")
	}
	in.Format = joinSorted(formats)
	digest := digestOf(data)
	if err := s.st.PutBlob(ctx, digest, reportMediaType, data); err != nil {
		return store.Model{}, store.ModelVersion{}, err
	}
	m, v, err := s.st.RecordVersion(ctx, in, fs)
	if err != nil {
		return m, v, err
	}
	sum := map[string]any{"findings": rep.Summary.Findings, "by_severity": rep.Summary.BySeverity,
		"artifacts": rep.Summary.Artifacts, "inconclusive": rep.Summary.Inconclusive, "tool": rep.Tool.Name + " " + rep.Tool.Version}
	sb, _ := json.Marshal(sum)
	if _, err := s.st.AddEvidence(ctx, store.Evidence{VersionID: v.ID, Kind: EvidenceScan, Digest: digest, MediaType: reportMediaType, Summary: string(sb), Actor: actor}, nil, ""); err != nil {
		return m, v, err
	}
	if reason == "" {
		reason = fmt.Sprintf("scan report uploaded: %d findings", len(fs))
	}
	ev := ledger.Event{Action: ledger.ActionScan, Actor: actor, Reason: reason,
		Subject:     ledger.Subject{Name: m.Name, Version: v.Version, Digest: validDigest(v.Digest)},
		Attachments: []ledger.Attachment{{Digest: digest, MediaType: reportMediaType, Name: "report.json", Size: int64(len(data))}}}
	return m, v, s.record(ctx, ev)
}

func validDigest(d string) string {
	if ledger.ValidateDigest(d) != nil {
		return ""
	}
	return d
}

func joinSorted(set map[string]bool) string {
	var ks []string
	for k := range set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func findingInput(f finding.Finding) store.FindingInput {
	detail, _ := json.Marshal(f)
	if len(detail) > maxFindingDetail {
		f.Evidence.Fields = nil
		if len(f.Evidence.Text) > 4096 {
			f.Evidence.Text = f.Evidence.Text[:4096] + "…"
		}
		detail, _ = json.Marshal(f)
	}
	loc := strings.TrimPrefix(f.Where(), f.Artifact.Path)
	return store.FindingInput{RuleID: f.RuleID, Severity: int(f.Severity), Title: f.Title, Path: f.Artifact.Path, Location: loc, Detail: string(detail)}
}

// detectKind guesses what an evidence document is from its shape.
func detectKind(doc map[string]json.RawMessage) string {
	switch {
	case doc["schema_version"] != nil && doc["artifacts"] != nil:
		return EvidenceScan
	case doc["bomFormat"] != nil:
		return EvidenceBOM
	case doc["allow"] != nil && (doc["deny"] != nil || doc["warn"] != nil):
		return EvidencePolicy
	case doc["views"] != nil && doc["overall"] != nil:
		return EvidenceFairness
	case doc["verified"] != nil:
		return EvidenceSignature
	case doc["attacks"] != nil || doc["robustness"] != nil:
		return EvidenceRobustness
	}
	return EvidenceOther
}

// policyDecision is the part of an internal/policy Decision the server reads.
type policyDecision struct {
	Allow *bool `json:"allow"`
	Deny  []struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Msg      string `json:"msg"`
	} `json:"deny"`
	Warn []struct {
		Rule string `json:"rule"`
		Msg  string `json:"msg"`
	} `json:"warn"`
}

// ingestEvidence stores a JSON evidence document for a model version and
// applies its effects: policy verdicts set the model's verdict (and a
// denial opens an incident), signature results set the signature status.
func (s *Server) ingestEvidence(ctx context.Context, actor string, meta VersionMeta, kind string, data []byte) (store.Evidence, *store.Incident, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return store.Evidence{}, nil, badf("evidence must be a JSON object: %v", err)
	}
	if kind == "" {
		kind = detectKind(doc)
	}
	if !contains(EvidenceKinds, kind) {
		return store.Evidence{}, nil, badf("unknown evidence kind %q (want one of %s)", kind, strings.Join(EvidenceKinds, ", "))
	}
	if kind == EvidenceScan {
		_, v, err := s.ingestReport(ctx, actor, meta, data, "")
		if err != nil {
			return store.Evidence{}, nil, err
		}
		evs, err := s.st.ListEvidence(ctx, v.ID)
		if err != nil || len(evs) == 0 {
			return store.Evidence{}, nil, err
		}
		return evs[0], nil, nil
	}
	if !validName(meta.Model) || !validName(meta.Version) {
		return store.Evidence{}, nil, badf("model name and version are required")
	}
	m, err := s.st.ModelByName(ctx, meta.Model)
	var v store.ModelVersion
	if errors.Is(err, store.ErrNotFound) || err == nil {
		// Evidence may arrive before any scan: register the version.
		var found bool
		if err == nil {
			vs, err := s.st.Versions(ctx, m.ID)
			if err != nil {
				return store.Evidence{}, nil, err
			}
			for _, x := range vs {
				if x.Version == meta.Version {
					v, found = x, true
				}
			}
		}
		if !found {
			if _, v, err = s.st.RecordVersion(ctx, store.VersionInput{Model: meta.Model, Owner: meta.Owner, Tags: meta.Tags, Version: meta.Version, SourceURI: meta.SourceURI}, nil); err != nil {
				return store.Evidence{}, nil, err
			}
		}
	} else {
		return store.Evidence{}, nil, err
	}
	summary := map[string]any{}
	var pass *bool
	sig := ""
	var incident *store.Incident
	mediaType := evidenceMediaType
	reason := kind + " evidence uploaded"
	action := ledger.ActionEvaluate
	switch kind {
	case EvidenceBOM:
		mediaType = cyclonedxMediaType
		summary = bomSummary(doc)
		action = ledger.ActionAttest
	case EvidencePolicy:
		var d policyDecision
		if err := json.Unmarshal(data, &d); err != nil || d.Allow == nil {
			return store.Evidence{}, nil, badf("policy evidence needs a boolean \"allow\" (an mlsec policy decision)")
		}
		pass = d.Allow
		var reasons []string
		for _, x := range d.Deny {
			reasons = append(reasons, strings.TrimSpace(x.Rule+": "+x.Msg))
		}
		var warns []string
		for _, x := range d.Warn {
			warns = append(warns, strings.TrimSpace(x.Rule+": "+x.Msg))
		}
		summary["allow"] = *d.Allow
		summary["deny"] = capList(reasons, maxPolicyReasons)
		summary["warn"] = capList(warns, maxPolicyReasons)
		if *d.Allow {
			action, reason = ledger.ActionApprove, "policy: allowed"
		} else {
			action, reason = ledger.ActionReject, fmt.Sprintf("policy: denied (%d violations)", len(d.Deny))
		}
	case EvidenceSignature:
		var r struct {
			Verified *bool  `json:"verified"`
			Error    string `json:"error"`
		}
		if err := json.Unmarshal(data, &r); err != nil || r.Verified == nil {
			return store.Evidence{}, nil, badf("signature evidence needs a boolean \"verified\"")
		}
		sig = "failed"
		if *r.Verified {
			sig = "verified"
		}
		summary["status"] = sig
		if r.Error != "" {
			summary["error"] = truncateText(r.Error, 500)
		}
		action, reason = ledger.ActionVerify, "signature "+sig
	case EvidenceFairness:
		summary = fairnessSummary(doc)
	default:
		summary = genericSummary(doc)
	}
	digest := digestOf(data)
	if err := s.st.PutBlob(ctx, digest, mediaType, data); err != nil {
		return store.Evidence{}, nil, err
	}
	sb, _ := json.Marshal(summary)
	e, err := s.st.AddEvidence(ctx, store.Evidence{VersionID: v.ID, Kind: kind, Digest: digest, MediaType: mediaType, Summary: string(sb), Actor: actor}, pass, sig)
	if err != nil {
		return e, nil, err
	}
	if err := s.record(ctx, ledger.Event{Action: action, Actor: actor, Reason: reason,
		Subject:     ledger.Subject{Name: meta.Model, Version: meta.Version, Digest: validDigest(v.Digest)},
		Attachments: []ledger.Attachment{{Digest: digest, MediaType: mediaType, Name: kind + ".json", Size: int64(len(data))}}}); err != nil {
		return e, nil, err
	}
	if pass != nil && !*pass {
		reasons, _ := summary["deny"].([]string)
		in, err := s.openIncident(ctx, actor, store.Incident{
			Title:    "Policy denied " + meta.Model + "@" + meta.Version,
			Severity: int(finding.High), Source: incidentSourcePol, Model: meta.Model,
			Detail: truncateText(strings.Join(reasons, "\n"), maxIncidentText),
		})
		if err != nil {
			return e, nil, err
		}
		incident = &in
	}
	return e, incident, nil
}

func (s *Server) openIncident(ctx context.Context, actor string, in store.Incident) (store.Incident, error) {
	in, err := s.st.OpenIncident(ctx, in, actor)
	if err != nil {
		return in, err
	}
	subject := in.Model
	if subject == "" {
		subject = fmt.Sprintf("incident/%d", in.ID)
	}
	err = s.record(ctx, ledger.Event{Action: "x-incident-open", Actor: actor, Subject: ledger.Subject{Name: subject},
		Reason: truncateText(fmt.Sprintf("incident %d opened (%s, %s): %s", in.ID, in.Source, finding.Severity(in.Severity), in.Title), 1000)})
	return in, err
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func capList(xs []string, n int) []string {
	if xs == nil {
		return []string{}
	}
	if len(xs) > n {
		return append(xs[:n:n], fmt.Sprintf("… and %d more", len(xs)-n))
	}
	return xs
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func bomSummary(doc map[string]json.RawMessage) map[string]any {
	var comps []struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(doc["components"], &comps)
	byType := map[string]int{}
	for _, c := range comps {
		byType[c.Type]++
	}
	var vulns []json.RawMessage
	_ = json.Unmarshal(doc["vulnerabilities"], &vulns)
	var spec string
	_ = json.Unmarshal(doc["specVersion"], &spec)
	return map[string]any{"components": len(comps), "by_type": byType, "vulnerabilities": len(vulns), "spec_version": spec}
}

func fairnessSummary(doc map[string]json.RawMessage) map[string]any {
	var views []struct {
		Name        string `json:"name"`
		Disparities []struct {
			Name      string   `json:"name"`
			Method    string   `json:"method"`
			Value     any      `json:"value"`
			Threshold *float64 `json:"threshold"`
			Breach    bool     `json:"breach"`
		} `json:"disparities"`
	}
	_ = json.Unmarshal(doc["views"], &views)
	var ds []map[string]any
	breaches := 0
	for _, v := range views {
		for _, d := range v.Disparities {
			if d.Breach {
				breaches++
			}
			if len(ds) < maxSummaryEntries {
				ds = append(ds, map[string]any{"view": v.Name, "name": d.Name, "method": d.Method, "value": d.Value, "threshold": d.Threshold, "breach": d.Breach})
			}
		}
	}
	return map[string]any{"disparities": ds, "breaches": breaches}
}

// genericSummary keeps a document's top-level scalars and counts its
// findings by severity (robustness and other reports).
func genericSummary(doc map[string]json.RawMessage) map[string]any {
	out := map[string]any{}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(out) >= maxSummaryEntries {
			break
		}
		var v any
		if json.Unmarshal(doc[k], &v) != nil {
			continue
		}
		switch x := v.(type) {
		case float64, bool:
			out[k] = x
		case string:
			out[k] = truncateText(x, 200)
		}
	}
	var fs []finding.Finding
	if json.Unmarshal(doc["findings"], &fs) == nil && len(fs) > 0 {
		by := map[string]int{}
		for _, f := range fs {
			by[f.Severity.String()]++
		}
		out["findings"] = len(fs)
		out["by_severity"] = by
	}
	return out
}
