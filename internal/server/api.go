package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

// route is one registered API endpoint; the OpenAPI test walks them.
type route struct {
	method  string
	pattern string // ServeMux pattern path, e.g. /api/models/{name}
	role    Role
	h       func(w http.ResponseWriter, r *http.Request, p *principal) error
}

// httpError carries a status code to the client.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errStatus(code int, format string, args ...any) error {
	return &httpError{code, fmt.Sprintf(format, args...)}
}

func (s *Server) registerAPI() {
	rs := []route{
		{"GET", "/api/health", RoleNone, s.apiHealth},
		{"GET", "/api/openapi.json", RoleNone, s.apiOpenAPI},
		{"GET", "/api/whoami", RoleViewer, s.apiWhoami},
		{"GET", "/api/overview", RoleViewer, s.apiOverview},
		{"GET", "/api/models", RoleViewer, s.apiModels},
		{"GET", "/api/models/{name}", RoleViewer, s.apiModel},
		{"GET", "/api/models/{name}/versions/{version}", RoleViewer, s.apiVersion},
		{"GET", "/api/models/{name}/timeline", RoleViewer, s.apiTimeline},
		{"POST", "/api/models/{name}/versions/{version}/evidence", RoleAnalyst, s.apiPostEvidence},
		{"POST", "/api/reports", RoleAnalyst, s.apiPostReport},
		{"GET", "/api/evidence/{id}", RoleViewer, s.apiEvidence},
		{"GET", "/api/findings", RoleViewer, s.apiFindings},
		{"GET", "/api/findings/{id}", RoleViewer, s.apiFinding},
		{"GET", "/api/incidents", RoleViewer, s.apiIncidents},
		{"POST", "/api/incidents", RoleAnalyst, s.apiPostIncident},
		{"GET", "/api/incidents/{id}", RoleViewer, s.apiIncident},
		{"PATCH", "/api/incidents/{id}", RoleAnalyst, s.apiPatchIncident},
		{"POST", "/api/alerts", RoleAnalyst, s.apiPostAlert},
		{"POST", "/api/scans", RoleAdmin, s.apiPostScan},
		{"GET", "/api/jobs", RoleAdmin, s.apiJobs},
		{"GET", "/api/tokens", RoleAdmin, s.apiTokens},
		{"POST", "/api/tokens", RoleAdmin, s.apiPostToken},
		{"DELETE", "/api/tokens/{id}", RoleAdmin, s.apiDeleteToken},
	}
	for _, rt := range rs {
		s.routes = append(s.routes, rt)
		s.mux.Handle(rt.method+" "+rt.pattern, s.apiHandler(rt))
	}
	s.mux.Handle("/api/", s.apiHandler(route{role: RoleNone, h: func(http.ResponseWriter, *http.Request, *principal) error {
		return errStatus(http.StatusNotFound, "no such endpoint")
	}}))
}

func (s *Server) apiHandler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var p *principal
		if rt.role > RoleNone {
			var err error
			p, err = s.authenticate(r)
			if err != nil {
				if !errors.Is(err, errUnauthorized) {
					s.log.Error("authenticate", "err", err)
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="mlsec"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": errUnauthorized.Error()})
				return
			}
			if p.role < rt.role {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("this needs the %s role (token has %s)", rt.role, p.role)})
				return
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead && !checkCSRF(r, p) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused (missing or wrong X-CSRF-Token)"})
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxEvidenceSize)
		if err := rt.h(w, r, p); err != nil {
			code, msg := http.StatusInternalServerError, "internal error"
			var he *httpError
			var br *badRequest
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &he):
				code, msg = he.code, he.msg
			case errors.As(err, &br):
				code, msg = http.StatusBadRequest, br.msg
			case errors.As(err, &mbe):
				code, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", mbe.Limit)
			case errors.Is(err, store.ErrNotFound):
				code, msg = http.StatusNotFound, err.Error()
			case errors.Is(err, ledger.ErrInvalidEvent):
				code, msg = http.StatusBadRequest, err.Error()
			default:
				s.log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeJSON(w, code, map[string]string{"error": msg})
		}
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badf("bad JSON body: %v", err)
	}
	return nil
}

func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badf("%s must be a non-negative integer", name)
	}
	return n, nil
}

func querySeverity(r *http.Request, name string) (*int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	if v == "none" {
		n := -1
		return &n, nil
	}
	sev, err := finding.ParseSeverity(v)
	if err != nil {
		return nil, badf("%s: %v", name, err)
	}
	n := int(sev)
	return &n, nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errStatus(http.StatusNotFound, "no such id %q", r.PathValue("id"))
	}
	return id, nil
}

// --- views: API JSON shapes ---

func riskName(r int) string {
	if r < 0 {
		return "none"
	}
	return finding.Severity(r).String()
}

func countsMap(c [5]int) map[string]int {
	return map[string]int{"critical": c[4], "high": c[3], "medium": c[2], "low": c[1], "info": c[0]}
}

type modelView struct {
	store.Model
	RiskName string         `json:"risk"`
	Findings map[string]int `json:"findings"`
}

func viewModel(m store.Model) modelView {
	return modelView{Model: m, RiskName: riskName(m.Risk), Findings: countsMap(m.Counts)}
}

type findingView struct {
	store.StoredFinding
	SeverityName string          `json:"severity"`
	Detail       json.RawMessage `json:"detail"`
}

func viewFinding(f store.StoredFinding) findingView {
	d := json.RawMessage(f.Detail)
	if !json.Valid(d) {
		d = json.RawMessage("{}")
	}
	return findingView{StoredFinding: f, SeverityName: finding.Severity(f.Severity).String(), Detail: d}
}

type evidenceView struct {
	store.Evidence
	Summary json.RawMessage `json:"summary"`
	URL     string          `json:"url"`
}

func viewEvidence(e store.Evidence) evidenceView {
	d := json.RawMessage(e.Summary)
	if !json.Valid(d) {
		d = json.RawMessage("{}")
	}
	return evidenceView{Evidence: e, Summary: d, URL: fmt.Sprintf("/api/evidence/%d", e.ID)}
}

type incidentView struct {
	store.Incident
	SeverityName string                `json:"severity"`
	Timeline     []store.IncidentEvent `json:"timeline,omitempty"`
}

func viewIncident(in store.Incident, tl []store.IncidentEvent) incidentView {
	return incidentView{Incident: in, SeverityName: finding.Severity(in.Severity).String(), Timeline: tl}
}

// --- handlers ---

func (s *Server) apiHealth(w http.ResponseWriter, r *http.Request, _ *principal) error {
	if err := s.st.Ping(r.Context()); err != nil {
		return errStatus(http.StatusServiceUnavailable, "database unreachable")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "backend": string(s.st.Backend())})
	return nil
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, _ *http.Request, _ *principal) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, err := w.Write(openAPIDoc)
	return err
}

func (s *Server) apiWhoami(w http.ResponseWriter, _ *http.Request, p *principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"id": p.token.ID, "name": p.token.Name, "role": p.role.String()})
	return nil
}

func (s *Server) apiOverview(w http.ResponseWriter, r *http.Request, _ *principal) error {
	f, err := s.st.FleetSummary(r.Context())
	if err != nil {
		return err
	}
	byRisk := map[string]int{"none": f.ByRisk[0]}
	for i := 0; i < 5; i++ {
		byRisk[finding.Severity(i).String()] = f.ByRisk[i+1]
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"models": f.Models, "models_by_risk": byRisk,
		"policy":    map[string]int{"pass": f.PolicyPass, "fail": f.PolicyFail, "none": f.PolicyNone},
		"findings":  countsMap(f.Findings),
		"incidents": map[string]int{"open": f.OpenIncidents, "acknowledged": f.AckIncidents},
	})
	return nil
}

func modelFilter(r *http.Request) (store.ModelFilter, error) {
	q := r.URL.Query()
	f := store.ModelFilter{Query: q.Get("q"), Owner: q.Get("owner"), Tag: q.Get("tag"), Policy: q.Get("policy")}
	var err error
	if f.Risk, err = querySeverity(r, "risk"); err != nil {
		return f, err
	}
	if f.MinRisk, err = querySeverity(r, "min_risk"); err != nil {
		return f, err
	}
	if f.Limit, err = queryInt(r, "limit", 50); err != nil {
		return f, err
	}
	if f.Offset, err = queryInt(r, "offset", 0); err != nil {
		return f, err
	}
	switch f.Policy {
	case "", "pass", "fail":
	case "none":
		f.Policy = ""
	default:
		return f, badf("policy must be pass or fail")
	}
	return f, nil
}

func (s *Server) apiModels(w http.ResponseWriter, r *http.Request, _ *principal) error {
	f, err := modelFilter(r)
	if err != nil {
		return err
	}
	ms, total, err := s.st.ListModels(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]modelView, len(ms))
	for i, m := range ms {
		items[i] = viewModel(m)
	}
	page := map[string]any{"items": items, "total": total, "limit": min(max(f.Limit, 1), 500), "offset": f.Offset}
	if f.Offset+len(items) < total {
		page["next_offset"] = f.Offset + len(items)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) apiModel(w http.ResponseWriter, r *http.Request, _ *principal) error {
	m, err := s.st.ModelByName(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	vs, err := s.st.Versions(r.Context(), m.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": viewModel(m), "versions": vs})
	return nil
}

func (s *Server) findVersion(r *http.Request) (store.Model, store.ModelVersion, error) {
	m, err := s.st.ModelByName(r.Context(), r.PathValue("name"))
	if err != nil {
		return m, store.ModelVersion{}, err
	}
	vs, err := s.st.Versions(r.Context(), m.ID)
	if err != nil {
		return m, store.ModelVersion{}, err
	}
	want := r.PathValue("version")
	for _, v := range vs {
		if v.Version == want || (want == "latest" && v.ID == m.LatestVersion) {
			return m, v, nil
		}
	}
	return m, store.ModelVersion{}, fmt.Errorf("version %q of %q: %w", want, m.Name, store.ErrNotFound)
}

func (s *Server) apiVersion(w http.ResponseWriter, r *http.Request, _ *principal) error {
	m, v, err := s.findVersion(r)
	if err != nil {
		return err
	}
	fs, _, err := s.st.ListFindings(r.Context(), store.FindingFilter{VersionID: v.ID, Limit: 500})
	if err != nil {
		return err
	}
	evs, err := s.st.ListEvidence(r.Context(), v.ID)
	if err != nil {
		return err
	}
	fv := make([]findingView, len(fs))
	for i, f := range fs {
		fv[i] = viewFinding(f)
	}
	ev := make([]evidenceView, len(evs))
	for i, e := range evs {
		ev[i] = viewEvidence(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": viewModel(m), "version": v, "findings": fv, "evidence": ev})
	return nil
}

func (s *Server) apiTimeline(w http.ResponseWriter, r *http.Request, _ *principal) error {
	name := r.PathValue("name")
	if _, err := s.st.ModelByName(r.Context(), name); err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		return err
	}
	if err := s.catchUpIndex(r.Context()); err != nil {
		return err
	}
	tl, err := s.st.Timeline(r.Context(), name, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": tl})
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, badf("empty body")
	}
	return b, nil
}

func metaFromQuery(r *http.Request) VersionMeta {
	q := r.URL.Query()
	m := VersionMeta{Model: q.Get("model"), Version: q.Get("version"), Owner: q.Get("owner"), SourceURI: q.Get("source")}
	if t := q.Get("tags"); t != "" {
		m.Tags = strings.Split(t, ",")
	}
	return m
}

func (s *Server) apiPostEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	meta := metaFromQuery(r)
	meta.Model, meta.Version = r.PathValue("name"), r.PathValue("version")
	e, inc, err := s.ingestEvidence(r.Context(), p.actor(), meta, r.URL.Query().Get("kind"), data)
	if err != nil {
		return err
	}
	out := map[string]any{"evidence": viewEvidence(e)}
	if inc != nil {
		out["incident"] = viewIncident(*inc, nil)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) apiPostReport(w http.ResponseWriter, r *http.Request, p *principal) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	m, v, err := s.ingestReport(r.Context(), p.actor(), metaFromQuery(r), data, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"model": viewModel(m), "version": v,
		"url": "/models/" + pathEscape(m.Name) + "?version=" + pathEscape(v.Version)})
	return nil
}

func (s *Server) apiEvidence(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return s.serveEvidence(w, r, id)
}

func (s *Server) serveEvidence(w http.ResponseWriter, r *http.Request, id int64) error {
	e, err := s.st.EvidenceByID(r.Context(), id)
	if err != nil {
		return err
	}
	mt, data, err := s.st.Blob(r.Context(), e.Digest)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%d.json"`, e.Kind, e.ID))
	w.Header().Set("Digest", e.Digest)
	_, err = w.Write(data)
	return err
}

func (s *Server) apiFindings(w http.ResponseWriter, r *http.Request, _ *principal) error {
	q := r.URL.Query()
	f := store.FindingFilter{RuleID: q.Get("rule"), After: q.Get("cursor")}
	var err error
	if f.Severity, err = querySeverity(r, "severity"); err != nil {
		return err
	}
	if f.MinSev, err = querySeverity(r, "min_severity"); err != nil {
		return err
	}
	if f.Limit, err = queryInt(r, "limit", 50); err != nil {
		return err
	}
	if name := q.Get("model"); name != "" {
		m, err := s.st.ModelByName(r.Context(), name)
		if err != nil {
			return err
		}
		f.ModelID = m.ID
	}
	fs, next, err := s.st.ListFindings(r.Context(), f)
	if err != nil {
		if strings.HasPrefix(err.Error(), "bad cursor") {
			return badf("%v", err)
		}
		return err
	}
	items := make([]findingView, len(fs))
	for i, x := range fs {
		items[i] = viewFinding(x)
	}
	page := map[string]any{"items": items}
	if next != "" {
		page["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) apiFinding(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	f, err := s.st.Finding(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewFinding(f))
	return nil
}

func (s *Server) apiIncidents(w http.ResponseWriter, r *http.Request, _ *principal) error {
	q := r.URL.Query()
	f := store.IncidentFilter{Status: q.Get("status"), Model: q.Get("model")}
	switch f.Status {
	case "", "active", store.IncidentOpen, store.IncidentAcknowledged, store.IncidentResolved:
	default:
		return badf("status must be open, acknowledged, resolved or active")
	}
	var err error
	if f.Limit, err = queryInt(r, "limit", 50); err != nil {
		return err
	}
	if f.Offset, err = queryInt(r, "offset", 0); err != nil {
		return err
	}
	ins, total, err := s.st.ListIncidents(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]incidentView, len(ins))
	for i, in := range ins {
		items[i] = viewIncident(in, nil)
	}
	page := map[string]any{"items": items, "total": total, "offset": f.Offset}
	if f.Offset+len(items) < total {
		page["next_offset"] = f.Offset + len(items)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// IncidentRequest opens an incident.
type IncidentRequest struct {
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Source   string `json:"source,omitempty"`
	Model    string `json:"model,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Assignee string `json:"assignee,omitempty"`
}

func (req IncidentRequest) toIncident(defSource string) (store.Incident, error) {
	title := strings.TrimSpace(req.Title)
	if title == "" || len(title) > 500 {
		return store.Incident{}, badf("title is required (at most 500 characters)")
	}
	sev := finding.High
	if req.Severity != "" {
		var err error
		if sev, err = finding.ParseSeverity(req.Severity); err != nil {
			return store.Incident{}, badf("%v", err)
		}
	}
	src := req.Source
	if src == "" {
		src = defSource
	}
	if len(src) > 100 || len(req.Model) > maxNameLen || len(req.Assignee) > 200 {
		return store.Incident{}, badf("source, model or assignee too long")
	}
	return store.Incident{Title: title, Severity: int(sev), Source: src, Model: req.Model,
		Detail: truncateText(req.Detail, maxIncidentText), Assignee: req.Assignee}, nil
}

func (s *Server) apiPostIncident(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req IncidentRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	in, err := req.toIncident(incidentSourceHuman)
	if err != nil {
		return err
	}
	in, err = s.openIncident(r.Context(), p.actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewIncident(in, nil))
	return nil
}

// AlertRequest is a gateway alert.
type AlertRequest struct {
	Gateway  string `json:"gateway"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Model    string `json:"model,omitempty"`
	Client   string `json:"client,omitempty"`
}

func (s *Server) apiPostAlert(w http.ResponseWriter, r *http.Request, p *principal) error {
	var a AlertRequest
	if err := decodeJSON(r, &a); err != nil {
		return err
	}
	if strings.TrimSpace(a.Rule) == "" || strings.TrimSpace(a.Message) == "" {
		return badf("rule and message are required")
	}
	title := truncateText(a.Rule+": "+a.Message, 300)
	detail := fmt.Sprintf("gateway: %s\nrule: %s\nclient: %s\n\n%s", a.Gateway, a.Rule, a.Client, a.Message)
	in, err := IncidentRequest{Title: title, Severity: a.Severity, Source: incidentSourceGate, Model: a.Model, Detail: detail}.toIncident(incidentSourceGate)
	if err != nil {
		return err
	}
	in, err = s.openIncident(r.Context(), p.actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewIncident(in, nil))
	return nil
}

func (s *Server) apiIncident(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	in, tl, err := s.st.Incident(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewIncident(in, tl))
	return nil
}

// IncidentPatch changes an incident.
type IncidentPatch struct {
	Status   *string `json:"status,omitempty"`
	Assignee *string `json:"assignee,omitempty"`
	Note     string  `json:"note,omitempty"`
}

func (s *Server) apiPatchIncident(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req IncidentPatch
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	in, err := s.updateIncident(r, p, id, req)
	if err != nil {
		return err
	}
	_, tl, err := s.st.Incident(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewIncident(in, tl))
	return nil
}

func (s *Server) updateIncident(r *http.Request, p *principal, id int64, req IncidentPatch) (store.Incident, error) {
	if req.Status != nil {
		switch *req.Status {
		case store.IncidentOpen, store.IncidentAcknowledged, store.IncidentResolved:
		default:
			return store.Incident{}, badf("status must be open, acknowledged or resolved")
		}
	}
	if req.Assignee != nil && len(*req.Assignee) > 200 || len(req.Note) > maxIncidentText {
		return store.Incident{}, badf("assignee or note too long")
	}
	in, err := s.st.UpdateIncident(r.Context(), id, store.IncidentChange{Status: req.Status, Assignee: req.Assignee, Note: req.Note}, p.actor())
	if err != nil {
		return in, err
	}
	var parts []string
	if req.Status != nil {
		parts = append(parts, "status "+*req.Status)
	}
	if req.Assignee != nil {
		parts = append(parts, "assignee "+*req.Assignee)
	}
	if req.Note != "" {
		parts = append(parts, "note: "+truncateText(req.Note, 500))
	}
	subject := in.Model
	if subject == "" {
		subject = fmt.Sprintf("incident/%d", in.ID)
	}
	err = s.record(r.Context(), ledger.Event{Action: "x-incident-update", Actor: p.actor(), Subject: ledger.Subject{Name: subject},
		Reason: truncateText(fmt.Sprintf("incident %d: %s", in.ID, strings.Join(parts, "; ")), 1000)})
	return in, err
}

// ScanRequest asks the server to scan a path it can read.
type ScanRequest struct {
	Path    string   `json:"path"`
	Model   string   `json:"model,omitempty"`
	Version string   `json:"version,omitempty"`
	Owner   string   `json:"owner,omitempty"`
	Tags    []string `json:"tags,omitempty"`
}

func (s *Server) apiPostScan(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req ScanRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if _, err := s.allowedPath(req.Path); err != nil {
		return err
	}
	payload, _ := json.Marshal(scanJob{ScanRequest: req, Actor: p.actor()})
	if err := s.st.Enqueue(r.Context(), jobScan, string(payload)); err != nil {
		return err
	}
	s.poke()
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request, _ *principal) error {
	c, err := s.st.CountJobs(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"queued": c.Queued, "running": c.Running, "done": c.Done, "failed": c.Failed})
	return nil
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request, _ *principal) error {
	ts, err := s.st.ListTokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ts})
	return nil
}

// TokenRequest creates a token.
type TokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) createToken(r *http.Request, p *principal, req TokenRequest) (store.Token, string, error) {
	name := strings.TrimSpace(req.Name)
	if !validName(name) || len(name) > 100 {
		return store.Token{}, "", badf("token name is required (at most 100 printable characters)")
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		return store.Token{}, "", badf("%v", err)
	}
	secret, hash, err := newToken()
	if err != nil {
		return store.Token{}, "", err
	}
	t, err := s.st.CreateToken(r.Context(), name, role.String(), hash)
	if err != nil {
		return t, "", err
	}
	err = s.record(r.Context(), ledger.Event{Action: ledger.ActionAccessGrant, Actor: p.actor(),
		Subject: ledger.Subject{Name: "token:" + name}, Reason: fmt.Sprintf("token %d created with role %s", t.ID, role)})
	return t, secret, err
}

func (s *Server) apiPostToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req TokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	t, secret, err := s.createToken(r, p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret})
	return nil
}

func (s *Server) revokeToken(r *http.Request, p *principal, id int64) error {
	t, err := s.st.TokenByID(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.st.RevokeToken(r.Context(), id); err != nil {
		return err
	}
	return s.record(r.Context(), ledger.Event{Action: ledger.ActionAccessRevok, Actor: p.actor(),
		Subject: ledger.Subject{Name: "token:" + t.Name}, Reason: fmt.Sprintf("token %d revoked", id)})
}

func (s *Server) apiDeleteToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.revokeToken(r, p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
