package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/server/ui"
	"github.com/mlsec/mlsec/internal/store"
)

type uiRenderer struct {
	pages map[string]*template.Template
}

var uiFuncs = template.FuncMap{
	"pathEscape":  pathEscape,
	"queryEscape": url.QueryEscape,
	"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"fmtTime":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"ago":         ago,
	"bytes":       humanBytes,
	"short": func(d string) string {
		if len(d) > 19 {
			return d[:19] + "…"
		}
		return d
	},
}

func pathEscape(s string) string { return url.PathEscape(s) }

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return t.UTC().Format("2006-01-02")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func newUIRenderer() (*uiRenderer, error) {
	base, err := template.New("base").Funcs(uiFuncs).ParseFS(ui.FS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui templates: %w", err)
	}
	r := &uiRenderer{pages: map[string]*template.Template{}}
	names := []string{"login", "overview", "models", "model", "findings", "incidents", "incident", "tokens", "error"}
	for _, n := range names {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		files := []string{"templates/" + n + ".html"}
		if n == "overview" {
			files = append(files, "templates/models.html") // the model table
		}
		for _, f := range files {
			b, err := fs.ReadFile(ui.FS, f)
			if err != nil {
				return nil, err
			}
			if n == "overview" && f == "templates/models.html" {
				// Only the shared "modeltable" block, not the models page's content.
				b = []byte(string(b)[:strings.Index(string(b), `{{define "content"}}`)])
			}
			if _, err := t.New(f).Parse(string(b)); err != nil {
				return nil, fmt.Errorf("ui template %s: %w", f, err)
			}
		}
		r.pages[n] = t
	}
	return r, nil
}

// page is what every template gets.
type page struct {
	Title, Nav, User, Role, CSRF, Flash, Error string
	IsAdmin, CanWrite                          bool
	Data                                       any
}

func (s *Server) render(w http.ResponseWriter, code int, name string, p page) {
	var buf bytes.Buffer
	if err := s.ui.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) newPage(p *principal, title, nav string) page {
	pg := page{Title: title, Nav: nav}
	if p != nil {
		pg.User, pg.Role = p.token.Name, p.role.String()
		pg.IsAdmin, pg.CanWrite = p.role >= RoleAdmin, p.role >= RoleAnalyst
		if p.session != nil {
			pg.CSRF = p.session.CSRF
		}
	}
	return pg
}

var flashes = map[string]string{
	"ack": "Incident acknowledged.", "saved": "Saved.", "revoked": "Token revoked.", "opened": "Incident opened.",
}

// uiRoute wraps a UI handler: session required, role checked, CSRF
// checked on POST.
func (s *Server) uiRoute(role Role, h func(w http.ResponseWriter, r *http.Request, p *principal, pg page) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authSession(r)
		if err != nil {
			if !errors.Is(err, errUnauthorized) {
				s.log.Error("session", "err", err)
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		pg := s.newPage(p, "", "")
		pg.Flash = flashes[r.URL.Query().Get("done")]
		if p.role < role {
			pg.Title = "Forbidden: this page needs the " + role.String() + " role"
			s.render(w, http.StatusForbidden, "error", pg)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !checkCSRF(r, p) {
				pg.Title = "Forbidden: cross-site request refused"
				s.render(w, http.StatusForbidden, "error", pg)
				return
			}
		}
		if err := h(w, r, p, pg); err != nil {
			code := http.StatusInternalServerError
			pg.Title = "Something went wrong"
			var br *badRequest
			var he *httpError
			switch {
			case errors.Is(err, store.ErrNotFound):
				code, pg.Title = http.StatusNotFound, "Not found"
			case errors.As(err, &br):
				code, pg.Title = http.StatusBadRequest, br.msg
			case errors.As(err, &he):
				code, pg.Title = he.code, he.msg
			default:
				s.log.Error("ui", "path", r.URL.Path, "err", err)
			}
			s.render(w, code, "error", pg)
		}
	})
}

func (s *Server) registerUI() {
	static, _ := fs.Sub(ui.FS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(static))
	s.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /login", s.uiLoginForm)
	s.mux.HandleFunc("POST /login", s.uiLogin)
	s.mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if p, err := s.authSession(r); err == nil && checkCSRF(r, p) {
			s.logout(w, r)
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	s.mux.Handle("GET /{$}", s.uiRoute(RoleViewer, s.uiOverview))
	s.mux.Handle("GET /models", s.uiRoute(RoleViewer, s.uiModels))
	s.mux.Handle("GET /models/{name}", s.uiRoute(RoleViewer, s.uiModel))
	s.mux.Handle("GET /findings", s.uiRoute(RoleViewer, s.uiFindings))
	s.mux.Handle("GET /incidents", s.uiRoute(RoleViewer, s.uiIncidents))
	s.mux.Handle("POST /incidents", s.uiRoute(RoleAnalyst, s.uiOpenIncident))
	s.mux.Handle("GET /incidents/{id}", s.uiRoute(RoleViewer, s.uiIncident))
	s.mux.Handle("POST /incidents/{id}", s.uiRoute(RoleAnalyst, s.uiUpdateIncident))
	s.mux.Handle("GET /tokens", s.uiRoute(RoleAdmin, s.uiTokens))
	s.mux.Handle("POST /tokens", s.uiRoute(RoleAdmin, s.uiCreateToken))
	s.mux.Handle("POST /tokens/{id}/revoke", s.uiRoute(RoleAdmin, s.uiRevokeToken))
	s.mux.Handle("GET /evidence/{id}/download", s.uiRoute(RoleViewer, func(w http.ResponseWriter, r *http.Request, _ *principal, _ page) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		return s.serveEvidence(w, r, id)
	}))
	s.mux.Handle("/", s.uiRoute(RoleViewer, func(http.ResponseWriter, *http.Request, *principal, page) error {
		return store.ErrNotFound
	}))
}

func (s *Server) uiLoginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authSession(r); err == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, "")
}

// renderLogin shows the sign-in form. Its CSRF value is a double-submit
// nonce in a cookie, kept across loads so that two tabs (or a favicon
// request) do not invalidate each other.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, code int, msg string) {
	nonce := randomString()
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == len(nonce) {
		nonce = c.Value
	}
	s.setCookie(w, loginCookie, nonce, 15*time.Minute)
	pg := s.newPage(nil, "Sign in", "")
	pg.CSRF, pg.Error = nonce, msg
	s.render(w, code, "login", pg)
}

func (s *Server) uiLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(loginCookie)
	form := r.PostFormValue("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 || !sameOrigin(r) {
		s.log.Debug("login form refused", "cookie", err == nil, "field", form != "", "same_origin", sameOrigin(r),
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		s.renderLogin(w, r, http.StatusForbidden, "The sign-in form expired; please try again.")
		return
	}
	if err := s.login(w, r, r.PostFormValue("token")); err != nil {
		if !errors.Is(err, errUnauthorized) {
			s.log.Error("login", "err", err)
		}
		s.renderLogin(w, r, http.StatusUnauthorized, "That token is unknown or revoked.")
		return
	}
	s.setCookie(w, loginCookie, "", -1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type bar struct {
	Label, Class, Href string
	Value              int
	Y, TextY, W, NumX  int
}

type barChart struct {
	Bars   []bar
	Height int
}

func makeBars(labels []string, values []int, href func(string) string) barChart {
	mx := 1
	for _, v := range values {
		mx = max(mx, v)
	}
	var c barChart
	for i, l := range labels {
		w := values[i] * 200 / mx
		if values[i] > 0 {
			w = max(w, 2)
		}
		y := i * 26
		c.Bars = append(c.Bars, bar{Label: l, Class: l, Href: href(l), Value: values[i], Y: y, TextY: y + 14, W: w, NumX: 80 + w + 6})
	}
	c.Height = len(labels)*26 + 4
	return c
}

type donut struct {
	Pass, PassRest, Fail, FailRest, FailOffset float64
}

func (s *Server) uiOverview(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	ctx := r.Context()
	f, err := s.st.FleetSummary(ctx)
	if err != nil {
		return err
	}
	sevs := []string{"critical", "high", "medium", "low", "info"}
	riskVals := []int{f.ByRisk[5], f.ByRisk[4], f.ByRisk[3], f.ByRisk[2], f.ByRisk[1], f.ByRisk[0]}
	riskChart := makeBars(append(append([]string{}, sevs...), "none"), riskVals, func(l string) string { return "/models?risk=" + l })
	findVals := []int{f.Findings[4], f.Findings[3], f.Findings[2], f.Findings[1], f.Findings[0]}
	findChart := makeBars(sevs, findVals, func(l string) string { return "/findings?min_severity=" + l })
	total := float64(max(f.Models, 1))
	pass := float64(f.PolicyPass) * 100 / total
	fail := float64(f.PolicyFail) * 100 / total
	d := donut{Pass: pass, PassRest: 100 - pass, Fail: fail, FailRest: 100 - fail, FailOffset: 25 - pass}
	incs, _, err := s.st.ListIncidents(ctx, store.IncidentFilter{Status: "active", Limit: 8})
	if err != nil {
		return err
	}
	var iv []incidentView
	for _, in := range incs {
		iv = append(iv, viewIncident(in, nil))
	}
	top, _, err := s.st.ListModels(ctx, store.ModelFilter{Limit: 10})
	if err != nil {
		return err
	}
	var tv []modelView
	for _, m := range top {
		tv = append(tv, viewModel(m))
	}
	pg.Title, pg.Nav = "Overview", "overview"
	pg.Data = map[string]any{"F": f, "HighRisk": f.ByRisk[4] + f.ByRisk[5], "RiskChart": riskChart, "FindingChart": findChart,
		"Donut": d, "Incidents": iv, "Top": tv}
	s.render(w, http.StatusOK, "overview", pg)
	return nil
}

type pager struct{ Prev, Next, Label string }

func withQuery(path string, q url.Values, key, value string) string {
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	if value == "" {
		q2.Del(key)
	} else {
		q2.Set(key, value)
	}
	if len(q2) == 0 {
		return path
	}
	return path + "?" + q2.Encode()
}

func (s *Server) uiModels(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	f, err := modelFilter(r)
	if err != nil {
		return err
	}
	f.Limit = 50
	ms, total, err := s.st.ListModels(r.Context(), f)
	if err != nil {
		return err
	}
	var mv []modelView
	for _, m := range ms {
		mv = append(mv, viewModel(m))
	}
	q := r.URL.Query()
	pgr := pager{Label: fmt.Sprintf("%d–%d of %d", min(f.Offset+1, total), f.Offset+len(ms), total)}
	if f.Offset > 0 {
		pgr.Prev = withQuery("/models", q, "offset", strconv.Itoa(max(f.Offset-f.Limit, 0)))
	}
	if f.Offset+len(ms) < total {
		pgr.Next = withQuery("/models", q, "offset", strconv.Itoa(f.Offset+len(ms)))
	}
	pg.Title, pg.Nav = "Models", "models"
	pg.Data = map[string]any{"Models": mv, "Total": total, "Q": f.Query, "Tag": f.Tag, "Owner": f.Owner, "Policy": q.Get("policy"),
		"MinRisk": q.Get("min_risk"), "RiskOptions": []string{"critical", "high", "medium", "low", "info"}, "Pager": pgr}
	s.render(w, http.StatusOK, "models", pg)
	return nil
}

type findingGroup struct {
	Sev   string
	Items []findingItem
}

type findingItem struct {
	store.StoredFinding
	D finding.Finding
}

type policyView struct {
	Allow      bool
	Deny, Warn []string
	At         time.Time
	Actor      string
}

type bomComponent struct{ Type, Name, Version string }

type bomView struct {
	ID         int64
	Spec       string
	Components []bomComponent
}

type kv struct{ K, V string }

func (s *Server) uiModel(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	ctx := r.Context()
	m, err := s.st.ModelByName(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	vs, err := s.st.Versions(ctx, m.ID)
	if err != nil {
		return err
	}
	var v store.ModelVersion
	want := r.URL.Query().Get("version")
	for _, x := range vs {
		if (want == "" && x.ID == m.LatestVersion) || x.Version == want {
			v = x
		}
	}
	if v.ID == 0 && len(vs) > 0 {
		v = vs[0]
	}
	data := map[string]any{"M": viewModel(m), "Versions": vs, "V": v}
	if v.ID != 0 {
		const shown = 300
		fs, next, err := s.st.ListFindings(ctx, store.FindingFilter{VersionID: v.ID, Limit: shown})
		if err != nil {
			return err
		}
		var groups []findingGroup
		for _, f := range fs {
			sev := finding.Severity(f.Severity).String()
			if len(groups) == 0 || groups[len(groups)-1].Sev != sev {
				groups = append(groups, findingGroup{Sev: sev})
			}
			it := findingItem{StoredFinding: f}
			_ = json.Unmarshal([]byte(f.Detail), &it.D)
			groups[len(groups)-1].Items = append(groups[len(groups)-1].Items, it)
		}
		data["Groups"], data["FindingCount"], data["MoreFindings"] = groups, len(fs), next != ""
		if next != "" {
			data["FindingCount"] = fmt.Sprintf("first %d", shown)
		}
		evs, err := s.st.ListEvidence(ctx, v.ID)
		if err != nil {
			return err
		}
		data["Evidence"] = evs
		seen := map[string]bool{}
		for _, e := range evs { // newest first: the first of each kind wins
			if seen[e.Kind] {
				continue
			}
			seen[e.Kind] = true
			switch e.Kind {
			case EvidencePolicy:
				var sum struct {
					Allow bool     `json:"allow"`
					Deny  []string `json:"deny"`
					Warn  []string `json:"warn"`
				}
				_ = json.Unmarshal([]byte(e.Summary), &sum)
				data["Policy"] = policyView{Allow: sum.Allow, Deny: sum.Deny, Warn: sum.Warn, At: e.Created, Actor: e.Actor}
			case EvidenceBOM:
				bv, err := s.bomView(r, e)
				if err == nil {
					data["BOM"] = bv
				}
			case EvidenceFairness:
				var sum struct {
					Disparities []struct {
						View, Name string
						Value      any
						Threshold  *float64
						Breach     bool
					} `json:"disparities"`
				}
				_ = json.Unmarshal([]byte(e.Summary), &sum)
				type row struct {
					View, Name, Value, Threshold string
					Breach                       bool
				}
				var rows []row
				for _, d := range sum.Disparities {
					th := "—"
					if d.Threshold != nil {
						th = strconv.FormatFloat(*d.Threshold, 'g', 4, 64)
					}
					val := fmt.Sprint(d.Value)
					if f, ok := d.Value.(float64); ok {
						val = strconv.FormatFloat(f, 'f', 3, 64)
					}
					rows = append(rows, row{View: d.View, Name: d.Name, Value: val, Threshold: th, Breach: d.Breach})
				}
				data["Fairness"] = rows
			case EvidenceRobustness:
				var sum map[string]any
				_ = json.Unmarshal([]byte(e.Summary), &sum)
				var rows []kv
				for _, k := range sortedKeys(sum) {
					val := sum[k]
					if b, err := json.Marshal(val); err == nil && (strings.HasPrefix(string(b), "{") || strings.HasPrefix(string(b), "[")) {
						val = string(b)
					}
					rows = append(rows, kv{K: k, V: fmt.Sprint(val)})
				}
				data["Robustness"] = rows
			}
		}
	}
	if err := s.catchUpIndex(ctx); err != nil {
		return err
	}
	tl, err := s.st.Timeline(ctx, m.Name, 50)
	if err != nil {
		return err
	}
	data["Timeline"] = tl
	pg.Title, pg.Nav, pg.Data = m.Name, "models", data
	s.render(w, http.StatusOK, "model", pg)
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

func (s *Server) bomView(r *http.Request, e store.Evidence) (bomView, error) {
	_, data, err := s.st.Blob(r.Context(), e.Digest)
	if err != nil {
		return bomView{}, err
	}
	var doc struct {
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			Type, Name, Version string
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return bomView{}, err
	}
	bv := bomView{ID: e.ID, Spec: doc.SpecVersion}
	for i, c := range doc.Components {
		if i == 500 {
			break
		}
		bv.Components = append(bv.Components, bomComponent{Type: c.Type, Name: c.Name, Version: c.Version})
	}
	return bv, nil
}

func (s *Server) uiFindings(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	q := r.URL.Query()
	f := store.FindingFilter{RuleID: q.Get("rule"), After: q.Get("cursor"), Limit: 50}
	var err error
	if f.MinSev, err = querySeverity(r, "min_severity"); err != nil {
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
	var items []findingView
	for _, x := range fs {
		items = append(items, viewFinding(x))
	}
	pgr := pager{}
	if f.After != "" {
		pgr.Prev = withQuery("/findings", q, "cursor", "")
		pgr.Label = "continued"
	}
	if next != "" {
		pgr.Next = withQuery("/findings", q, "cursor", next)
	}
	pg.Title, pg.Nav = "Findings", "findings"
	pg.Data = map[string]any{"Items": items, "Rule": f.RuleID, "Model": q.Get("model"), "MinSev": q.Get("min_severity"),
		"SevOptions": []string{"critical", "high", "medium", "low", "info"}, "Pager": pgr}
	s.render(w, http.StatusOK, "findings", pg)
	return nil
}

func (s *Server) uiIncidents(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status == "" {
		status = "active"
	}
	switch status {
	case "active", store.IncidentOpen, store.IncidentAcknowledged, store.IncidentResolved, "all":
	default:
		return badf("unknown status")
	}
	st := status
	if st == "all" {
		st = ""
	}
	off, err := queryInt(r, "offset", 0)
	if err != nil {
		return err
	}
	ins, total, err := s.st.ListIncidents(r.Context(), store.IncidentFilter{Status: st, Limit: 50, Offset: off})
	if err != nil {
		return err
	}
	var items []incidentView
	for _, in := range ins {
		items = append(items, viewIncident(in, nil))
	}
	type tab struct {
		V, L string
		On   bool
	}
	var tabs []tab
	for _, t := range [][2]string{{"active", "Active"}, {"open", "Open"}, {"acknowledged", "Acknowledged"}, {"resolved", "Resolved"}, {"all", "All"}} {
		tabs = append(tabs, tab{V: t[0], L: t[1], On: t[0] == status})
	}
	pgr := pager{Label: fmt.Sprintf("%d incidents", total)}
	if off > 0 {
		pgr.Prev = withQuery("/incidents", q, "offset", strconv.Itoa(max(off-50, 0)))
	}
	if off+len(ins) < total {
		pgr.Next = withQuery("/incidents", q, "offset", strconv.Itoa(off+len(ins)))
	}
	pg.Title, pg.Nav = "Incidents", "incidents"
	pg.Data = map[string]any{"Items": items, "Tabs": tabs, "Pager": pgr, "SevOptions": []string{"critical", "high", "medium", "low", "info"}}
	s.render(w, http.StatusOK, "incidents", pg)
	return nil
}

func (s *Server) uiOpenIncident(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	req := IncidentRequest{Title: r.PostFormValue("title"), Severity: r.PostFormValue("severity"), Model: r.PostFormValue("model"), Detail: r.PostFormValue("detail")}
	in, err := req.toIncident(incidentSourceHuman)
	if err != nil {
		return err
	}
	in, err = s.openIncident(r.Context(), p.actor(), in)
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/incidents/%d?done=opened", in.ID), http.StatusSeeOther)
	return nil
}

func (s *Server) uiIncident(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	in, tl, err := s.st.Incident(r.Context(), id)
	if err != nil {
		return err
	}
	pg.Title, pg.Nav = fmt.Sprintf("Incident %d", id), "incidents"
	pg.Data = map[string]any{"I": viewIncident(in, tl)}
	s.render(w, http.StatusOK, "incident", pg)
	return nil
}

func (s *Server) uiUpdateIncident(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req IncidentPatch
	done := "saved"
	if st := r.PostFormValue("status"); st != "" {
		req.Status = &st
		if st == store.IncidentAcknowledged {
			done = "ack"
		}
	}
	if _, ok := r.PostForm["assignee"]; ok {
		a := strings.TrimSpace(r.PostFormValue("assignee"))
		req.Assignee = &a
	}
	req.Note = r.PostFormValue("note")
	if _, err := s.updateIncident(r, p, id, req); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/incidents/%d?done=%s", id, done), http.StatusSeeOther)
	return nil
}

func (s *Server) uiTokens(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	return s.renderTokens(w, r, pg, "")
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, pg page, secret string) error {
	ts, err := s.st.ListTokens(r.Context())
	if err != nil {
		return err
	}
	pg.Title, pg.Nav = "Tokens", "tokens"
	pg.Data = map[string]any{"Tokens": ts, "NewSecret": secret}
	s.render(w, http.StatusOK, "tokens", pg)
	return nil
}

func (s *Server) uiCreateToken(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	_, secret, err := s.createToken(r, p, TokenRequest{Name: r.PostFormValue("name"), Role: r.PostFormValue("role")})
	if err != nil {
		return err
	}
	pg.Flash = "Token created."
	return s.renderTokens(w, r, pg, secret)
}

func (s *Server) uiRevokeToken(w http.ResponseWriter, r *http.Request, p *principal, pg page) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.revokeToken(r, p, id); err != nil {
		return err
	}
	http.Redirect(w, r, "/tokens?done=revoked", http.StatusSeeOther)
	return nil
}
