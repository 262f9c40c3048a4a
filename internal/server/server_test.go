package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
	"github.com/mlsec/mlsec/internal/store/storetest"
)

// testServer is a server on a fresh store with an admin token.
type testServer struct {
	*Server
	ts    *httptest.Server
	admin string
	vkey  string
}

func newTestServer(t testing.TB, b store.Backend, mod ...func(*Config)) *testServer {
	t.Helper()
	st := storetest.Open(t, b)
	skey, vkey, err := ledger.GenerateKey("test.mlsec/server")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, LedgerKey: skey, LedgerPub: vkey, Workers: -1, Logger: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bootstrap(context.Background()); err != ErrAlreadyBootstrapped {
		t.Fatalf("second bootstrap: %v, want ErrAlreadyBootstrapped", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: s, ts: ts, admin: admin, vkey: vkey}
}

// do sends a request with a bearer token and decodes a JSON response.
func (ts *testServer) do(t testing.TB, token, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, ts.ts.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

func (ts *testServer) token(t testing.TB, name, role string) string {
	t.Helper()
	var out struct{ Secret string }
	if code := ts.do(t, ts.admin, "POST", "/api/tokens", map[string]string{"name": name, "role": role}, &out); code != 201 {
		t.Fatalf("create token: %d", code)
	}
	return out.Secret
}

func off(n int64) *int64 { return &n }

// sampleReport is a scan report with one critical and one medium finding.
func sampleReport(path string) []byte {
	a := finding.Artifact{Path: path, Size: 1234, SHA256: "ab" + strings.Repeat("0", 62), Format: "pytorch-zip"}
	rep := finding.Report{
		Tool: finding.Tool{Name: "mlsec", Version: "test"}, StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Targets: []string{path},
		Artifacts: []finding.ArtifactResult{{Artifact: a, Status: finding.StatusComplete, Findings: []finding.Finding{
			{RuleID: "MLS-PKL-001", Severity: finding.Critical, Title: "Pickle calls os.system", Artifact: a,
				Location: finding.Location{Member: "archive/data.pkl", Offset: off(42)},
				Evidence: finding.Evidence{Text: "GLOBAL os.system; REDUCE"}, Remediation: "Do not load this file."},
			{RuleID: "MLS-PKL-010", Severity: finding.Medium, Title: "Unaudited import", Artifact: a,
				Evidence: finding.Evidence{Text: "GLOBAL collections.OrderedDict"}},
		}}},
	}
	rep.Finalize()
	b, _ := json.Marshal(rep)
	return b
}

func TestAPI(t *testing.T) {
	for _, b := range storetest.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, b)
			analyst := ts.token(t, "ci", "analyst")
			viewer := ts.token(t, "reader", "viewer")

			// Upload reports for three models.
			var up struct {
				Model   modelView
				Version store.ModelVersion
			}
			if code := ts.do(t, analyst, "POST", "/api/reports?model=fraud-detector&version=1.0&owner=risk-team&tags=prod,tabular", sampleReport("models/fraud.pt"), &up); code != 201 {
				t.Fatalf("upload: %d", code)
			}
			if up.Model.RiskName != "critical" || up.Version.Digest != "sha256:ab"+strings.Repeat("0", 62) || up.Version.Format != "pytorch-zip" {
				t.Fatalf("upload result: %+v", up)
			}
			// Defaults: model from the target's base name, version from the digest.
			if code := ts.do(t, analyst, "POST", "/api/reports", sampleReport("/data/llama.gguf"), &up); code != 201 || up.Model.Name != "llama.gguf" || up.Version.Version != "sha256-ab0000000000" {
				t.Fatalf("default meta: %d %+v", code, up)
			}
			clean := finding.Report{Tool: finding.Tool{Name: "mlsec"}, Targets: []string{"clean.safetensors"},
				Artifacts: []finding.ArtifactResult{{Artifact: finding.Artifact{Path: "clean.safetensors", Format: "safetensors"}, Status: finding.StatusComplete}}}
			clean.Finalize()
			cb, _ := json.Marshal(clean)
			if code := ts.do(t, analyst, "POST", "/api/reports?model=clean-model&version=2", cb, nil); code != 201 {
				t.Fatalf("upload clean: %d", code)
			}
			// A second version replaces the model's risk.
			if code := ts.do(t, analyst, "POST", "/api/reports?model=fraud-detector&version=1.1", sampleReport("models/fraud.pt"), nil); code != 201 {
				t.Fatal(code)
			}

			// List with filters and pagination.
			var page struct {
				Items      []modelView
				Total      int
				NextOffset *int `json:"next_offset"`
			}
			ts.do(t, viewer, "GET", "/api/models?limit=2", nil, &page)
			if page.Total != 3 || len(page.Items) != 2 || page.NextOffset == nil || *page.NextOffset != 2 || page.Items[0].RiskName != "critical" {
				t.Fatalf("page 1: %+v", page)
			}
			page.NextOffset = nil
			ts.do(t, viewer, "GET", "/api/models?limit=2&offset=2", nil, &page)
			if len(page.Items) != 1 || page.Items[0].Name != "clean-model" || page.Items[0].RiskName != "none" || page.NextOffset != nil {
				t.Fatalf("page 2: %+v", page)
			}
			for q, want := range map[string]int{"q=FRAUD": 1, "tag=prod": 1, "owner=risk-team": 1, "min_risk=critical": 2, "risk=none": 1, "q=%25": 0} {
				ts.do(t, viewer, "GET", "/api/models?"+q, nil, &page)
				if page.Total != want {
					t.Errorf("%s: total %d, want %d", q, page.Total, want)
				}
			}
			if code := ts.do(t, viewer, "GET", "/api/models?risk=bogus", nil, nil); code != 400 {
				t.Errorf("bad filter: %d", code)
			}

			// Model and version detail.
			var md struct {
				Model    modelView
				Versions []store.ModelVersion
			}
			if code := ts.do(t, viewer, "GET", "/api/models/fraud-detector", nil, &md); code != 200 || len(md.Versions) != 2 || md.Model.Versions != 2 || md.Model.Findings["critical"] != 1 {
				t.Fatalf("model: %d %+v", code, md)
			}
			var vd struct {
				Findings []findingView
				Evidence []evidenceView
			}
			ts.do(t, viewer, "GET", "/api/models/fraud-detector/versions/1.0", nil, &vd)
			if len(vd.Findings) != 2 || vd.Findings[0].SeverityName != "critical" || !strings.Contains(string(vd.Findings[0].Detail), "os.system") || vd.Findings[0].Location != "!archive/data.pkl@42" {
				t.Fatalf("version findings: %+v", vd.Findings)
			}
			if len(vd.Evidence) != 1 || vd.Evidence[0].Kind != "scan" {
				t.Fatalf("version evidence: %+v", vd.Evidence)
			}
			if code := ts.do(t, viewer, "GET", "/api/models/nope", nil, nil); code != 404 {
				t.Errorf("missing model: %d", code)
			}
			// Model names with slashes travel escaped.
			if code := ts.do(t, analyst, "POST", "/api/reports?model="+url.QueryEscape("org/bert")+"&version=1", sampleReport("bert.bin"), nil); code != 201 {
				t.Fatal(code)
			}
			if code := ts.do(t, viewer, "GET", "/api/models/"+url.PathEscape("org/bert"), nil, &md); code != 200 || md.Model.Name != "org/bert" {
				t.Fatalf("escaped name: %d %+v", code, md.Model)
			}

			// Findings with cursor pagination.
			var fp struct {
				Items      []findingView
				NextCursor string `json:"next_cursor"`
			}
			var all []findingView
			cursor := ""
			for i := 0; i < 10; i++ {
				fp.NextCursor = ""
				ts.do(t, viewer, "GET", "/api/findings?limit=3&cursor="+cursor, nil, &fp)
				all = append(all, fp.Items...)
				if fp.NextCursor == "" {
					break
				}
				cursor = fp.NextCursor
			}
			if len(all) != 8 {
				t.Fatalf("paged findings: %d, want 8", len(all))
			}
			for i := range all {
				sev, _ := finding.ParseSeverity(all[i].SeverityName)
				all[i].Severity = int(sev)
			}
			for i := 1; i < len(all); i++ {
				if all[i].Severity > all[i-1].Severity || (all[i].Severity == all[i-1].Severity && all[i].ID >= all[i-1].ID) {
					t.Fatalf("findings out of order at %d", i)
				}
			}
			ts.do(t, viewer, "GET", "/api/findings?severity=critical&model=fraud-detector", nil, &fp)
			if len(fp.Items) != 2 {
				t.Fatalf("filtered findings: %d", len(fp.Items))
			}
			var one findingView
			if code := ts.do(t, viewer, "GET", fmt.Sprintf("/api/findings/%d", fp.Items[0].ID), nil, &one); code != 200 || one.RuleID != "MLS-PKL-001" {
				t.Fatalf("finding: %d %+v", code, one)
			}
			if code := ts.do(t, viewer, "GET", "/api/findings?cursor=zzz", nil, nil); code != 400 {
				t.Errorf("bad cursor: %d", code)
			}

			// Evidence: BOM, signature, fairness, policy denial (opens an incident).
			bom := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"machine-learning-model","name":"fraud-detector","version":"1.1"},{"type":"library","name":"torch","version":"2.3.0"}]}`)
			var ev struct {
				Evidence evidenceView
				Incident *incidentView
			}
			if code := ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.1/evidence", bom, &ev); code != 201 || ev.Evidence.Kind != "bom" {
				t.Fatalf("bom: %d %+v", code, ev)
			}
			req, _ := http.NewRequest("GET", ts.ts.URL+ev.Evidence.URL, nil)
			req.Header.Set("Authorization", "Bearer "+viewer)
			resp, err := ts.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, bom) || resp.Header.Get("Content-Type") != cyclonedxMediaType {
				t.Fatalf("bom download: %q %s", got, resp.Header.Get("Content-Type"))
			}
			if code := ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.1/evidence", []byte(`{"verified":true}`), &ev); code != 201 {
				t.Fatal(code)
			}
			fair := []byte(`{"input":{},"overall":{},"views":[{"name":"sex","disparities":[{"name":"demographic_parity_difference","method":"between_groups","value":0.31,"threshold":0.1,"breach":true}]}],"findings":[]}`)
			if code := ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.1/evidence", fair, &ev); code != 201 || ev.Evidence.Kind != "fairness" {
				t.Fatalf("fairness: %d %+v", code, ev)
			}
			if code := ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.1/evidence?kind=robustness", []byte(`{"attack":"fgsm","robust_accuracy":0.41,"epsilon":0.03}`), &ev); code != 201 {
				t.Fatal(code)
			}
			deny := []byte(`{"allow":false,"deny":[{"rule":"no-critical-findings","severity":"critical","msg":"MLS-PKL-001 in archive/data.pkl"}],"warn":[],"waived":[]}`)
			if code := ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.1/evidence", deny, &ev); code != 201 || ev.Incident == nil || ev.Incident.Source != "policy" {
				t.Fatalf("policy: %d %+v", code, ev)
			}
			if code := ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.1/evidence?kind=bogus", bom, nil); code != 400 {
				t.Errorf("bad kind: %d", code)
			}
			if code := ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.1/evidence", []byte(`[1,2]`), nil); code != 400 {
				t.Errorf("non-object evidence: %d", code)
			}
			if code := ts.do(t, analyst, "POST", "/api/reports", []byte(`{"schema_version":"9.0"}`), nil); code != 400 {
				t.Errorf("bad report: %d", code)
			}
			ts.do(t, viewer, "GET", "/api/models/fraud-detector", nil, &md)
			if md.Model.Policy != "fail" || md.Versions[0].Signature != "verified" {
				t.Fatalf("policy/signature not applied: %+v %+v", md.Model, md.Versions[0])
			}

			// Incidents: a gateway alert, listing, acknowledge, note, resolve.
			var inc incidentView
			if code := ts.do(t, analyst, "POST", "/api/alerts", AlertRequest{Gateway: "gw-1", Rule: "prompt-injection", Severity: "critical", Message: "jailbreak pattern", Model: "llama.gguf"}, &inc); code != 201 || inc.Status != "open" || inc.SeverityName != "critical" {
				t.Fatalf("alert: %d %+v", code, inc)
			}
			var ip struct {
				Items []incidentView
				Total int
			}
			ts.do(t, viewer, "GET", "/api/incidents?status=open", nil, &ip)
			if ip.Total != 2 || ip.Items[0].ID != inc.ID {
				t.Fatalf("incidents: %+v", ip)
			}
			ack, who := "acknowledged", "alice"
			if code := ts.do(t, analyst, "PATCH", fmt.Sprintf("/api/incidents/%d", inc.ID), IncidentPatch{Status: &ack, Assignee: &who, Note: "looking"}, &inc); code != 200 || inc.Status != ack || inc.Assignee != who || len(inc.Timeline) != 4 {
				t.Fatalf("patch: %d %+v", code, inc)
			}
			bad := "closed"
			if code := ts.do(t, analyst, "PATCH", fmt.Sprintf("/api/incidents/%d", inc.ID), IncidentPatch{Status: &bad}, nil); code != 400 {
				t.Errorf("bad status: %d", code)
			}
			if code := ts.do(t, analyst, "POST", "/api/incidents", map[string]string{"title": "x", "bogus": "y"}, nil); code != 400 {
				t.Errorf("unknown field: %d", code)
			}
			ts.do(t, viewer, "GET", "/api/incidents?status=active", nil, &ip)
			if ip.Total != 2 {
				t.Fatalf("active incidents: %d", ip.Total)
			}

			// Overview.
			var ov struct {
				Models       int
				ModelsByRisk map[string]int `json:"models_by_risk"`
				Policy       map[string]int
				Incidents    map[string]int
			}
			ts.do(t, viewer, "GET", "/api/overview", nil, &ov)
			if ov.Models != 4 || ov.ModelsByRisk["critical"] != 3 || ov.ModelsByRisk["none"] != 1 || ov.Policy["fail"] != 1 || ov.Incidents["open"] != 1 || ov.Incidents["acknowledged"] != 1 {
				t.Fatalf("overview: %+v", ov)
			}

			// Every write is in the ledger, and the ledger verifies.
			var tl struct{ Items []store.TimelineEntry }
			ts.do(t, viewer, "GET", "/api/models/fraud-detector/timeline", nil, &tl)
			actions := map[string]int{}
			for _, e := range tl.Items {
				actions[e.Action]++
			}
			if actions["scan"] != 2 || actions["attest"] != 1 || actions["verify"] != 1 || actions["reject"] != 1 || actions["evaluate"] != 2 || actions["x-incident-open"] != 1 {
				t.Fatalf("timeline actions: %v", actions)
			}
			res, err := ts.led.Verify(context.Background(), ts.vkey)
			if err != nil || !res.OK() {
				t.Fatalf("ledger verify: %v %+v", err, res)
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	for _, b := range storetest.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, b)
			viewer := ts.token(t, "v", "viewer")
			analyst := ts.token(t, "a", "analyst")
			report := sampleReport("m.pt")
			cases := []struct {
				name, token, method, path string
				body                      any
				want                      int
			}{
				{"no token", "", "GET", "/api/models", nil, 401},
				{"garbage token", "mlsec_nope", "GET", "/api/models", nil, 401},
				{"wrong scheme", "", "GET", "/api/models", nil, 401},
				{"health is public", "", "GET", "/api/health", nil, 200},
				{"openapi is public", "", "GET", "/api/openapi.json", nil, 200},
				{"viewer reads", viewer, "GET", "/api/models", nil, 200},
				{"viewer cannot upload", viewer, "POST", "/api/reports?model=m&version=1", report, 403},
				{"viewer cannot open incidents", viewer, "POST", "/api/incidents", map[string]string{"title": "x"}, 403},
				{"viewer cannot raise alerts", viewer, "POST", "/api/alerts", AlertRequest{Rule: "r", Message: "m"}, 403},
				{"viewer cannot list tokens", viewer, "GET", "/api/tokens", nil, 403},
				{"analyst uploads", analyst, "POST", "/api/reports?model=m&version=1", report, 201},
				{"analyst cannot create tokens", analyst, "POST", "/api/tokens", map[string]string{"name": "x", "role": "admin"}, 403},
				{"analyst cannot scan on the server", analyst, "POST", "/api/scans", ScanRequest{Path: "/etc"}, 403},
				{"analyst cannot see jobs", analyst, "GET", "/api/jobs", nil, 403},
				{"admin: scans disabled without roots", ts.admin, "POST", "/api/scans", ScanRequest{Path: "/etc"}, 403},
				{"admin sees jobs", ts.admin, "GET", "/api/jobs", nil, 200},
				{"bad role", ts.admin, "POST", "/api/tokens", map[string]string{"name": "x", "role": "root"}, 400},
				{"unknown endpoint", viewer, "GET", "/api/nope", nil, 404},
			}
			for _, c := range cases {
				if got := ts.do(t, c.token, c.method, c.path, c.body, nil); got != c.want {
					t.Errorf("%s: %s %s = %d, want %d", c.name, c.method, c.path, got, c.want)
				}
			}
			// Revocation: the token stops working at once.
			var toks struct{ Items []store.Token }
			ts.do(t, ts.admin, "GET", "/api/tokens", nil, &toks)
			var aid int64
			for _, tk := range toks.Items {
				if tk.Name == "a" {
					aid = tk.ID
					if tk.LastUsed == nil {
						t.Error("last_used not recorded")
					}
				}
			}
			if code := ts.do(t, ts.admin, "DELETE", fmt.Sprintf("/api/tokens/%d", aid), nil, nil); code != 204 {
				t.Fatalf("revoke: %d", code)
			}
			if code := ts.do(t, analyst, "GET", "/api/models", nil, nil); code != 401 {
				t.Errorf("revoked token: %d, want 401", code)
			}
			if code := ts.do(t, ts.admin, "DELETE", "/api/tokens/99999", nil, nil); code != 404 {
				t.Errorf("revoke unknown: %d", code)
			}
		})
	}
}

func TestTokensStoredHashed(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "m.db")
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	skey, vkey, _ := ledger.GenerateKey("t")
	s, err := New(context.Background(), Config{Store: st, LedgerKey: skey, LedgerPub: vkey, Workers: -1})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "mlsec_") || len(secret) != len("mlsec_")+43 {
		t.Fatalf("token shape %q", secret)
	}
	raw, err := os.ReadFile(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(secret[6:])) {
		t.Fatal("token secret stored in the clear")
	}
	h := hashSecret(secret)
	if _, err := st.TokenByHash(context.Background(), h); err != nil {
		t.Fatalf("hash not stored: %v", err)
	}
}

func TestOpenAPICoversRoutes(t *testing.T) {
	ts := newTestServer(t, store.SQLite)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if code := ts.do(t, "", "GET", "/api/openapi.json", nil, &doc); code != 200 {
		t.Fatal(code)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	seen := map[string]bool{}
	for _, r := range ts.routes {
		key := strings.ToLower(r.method) + " " + r.pattern
		seen[key] = true
		op, ok := doc.Paths[r.pattern][strings.ToLower(r.method)]
		if !ok {
			t.Errorf("route %s %s is not documented in openapi.json", r.method, r.pattern)
			continue
		}
		if got := op["x-mlsec-role"]; got != r.role.String() {
			t.Errorf("%s %s: documented role %v, registered %s", r.method, r.pattern, got, r.role)
		}
		if strings.Contains(r.pattern, "{") {
			params, _ := op["parameters"].([]any)
			for _, seg := range strings.Split(r.pattern, "/") {
				if !strings.HasPrefix(seg, "{") {
					continue
				}
				name := strings.Trim(seg, "{}")
				found := false
				for _, p := range params {
					pm, _ := p.(map[string]any)
					if pm["name"] == name && pm["in"] == "path" {
						found = true
					}
				}
				if !found {
					t.Errorf("%s %s: path parameter %s undocumented", r.method, r.pattern, name)
				}
			}
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !seen[m+" "+p] {
				t.Errorf("openapi.json documents %s %s, which is not registered", m, p)
			}
		}
	}
}

// testLog sends server logs to the test log.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
