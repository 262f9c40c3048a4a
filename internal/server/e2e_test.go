package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/store"
)

var screenshots = flag.String("screenshots", "", "write UI screenshots of the e2e test to `DIR` (e.g. ../../docs/screenshots)")

func chromiumPath() string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// seedDemo fills a server with a small, realistic inventory.
func seedDemo(t testing.TB, ts *testServer) {
	t.Helper()
	analyst := ts.token(t, "ci-pipeline", "analyst")
	ts.token(t, "dashboard", "viewer")
	must := func(code int, what string) {
		t.Helper()
		if code/100 != 2 {
			t.Fatalf("seed %s: %d", what, code)
		}
	}
	must(ts.do(t, analyst, "POST", "/api/reports?model=fraud-detector&version=1.4.0&owner=risk-team&tags=prod,tabular&source=s3://models/fraud/1.4.0/model.pt", sampleReport("model.pt"), nil), "fraud report")
	bom := `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"machine-learning-model","name":"fraud-detector","version":"1.4.0"},{"type":"data","name":"transactions-2025q4","version":"3"},{"type":"library","name":"torch","version":"2.3.0"},{"type":"library","name":"numpy","version":"1.26.4"}]}`
	must(ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.4.0/evidence", []byte(bom), nil), "bom")
	must(ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.4.0/evidence", []byte(`{"verified":false,"error":"digest mismatch for model.pt"}`), nil), "signature")
	fair := `{"input":{},"overall":{},"views":[{"name":"sex","disparities":[{"name":"demographic_parity_difference","method":"between_groups","value":0.18,"threshold":0.1,"breach":true},{"name":"equalized_odds_difference","method":"between_groups","value":0.04,"threshold":0.1,"breach":false}]}],"findings":[]}`
	must(ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.4.0/evidence", []byte(fair), nil), "fairness")
	must(ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.4.0/evidence?kind=robustness", []byte(`{"attack":"hopskipjump","queries":5000,"clean_accuracy":0.97,"robust_accuracy":0.62,"epsilon":0.05}`), nil), "robustness")
	deny := `{"allow":false,"deny":[{"rule":"no-code-execution","severity":"critical","msg":"MLS-PKL-001 (os.system) in model.pt"},{"rule":"signed-models","severity":"high","msg":"signature verification failed"}],"warn":[{"rule":"fairness","msg":"demographic parity difference 0.18 > 0.1"}],"waived":[]}`
	must(ts.do(t, analyst, "POST", "/api/models/fraud-detector/versions/1.4.0/evidence", []byte(deny), nil), "policy")

	for i, m := range []struct{ name, owner, tags, sev string }{
		{"sentiment-bert", "nlp", "prod,nlp", "high"}, {"llama-3-8b-instruct", "genai", "staging,llm", "medium"},
		{"churn-xgb", "growth", "prod,tabular", "low"}, {"resnet50-defects", "vision", "prod,vision", ""},
		{"whisper-small", "speech", "research", ""},
	} {
		rep := finding.Report{Tool: finding.Tool{Name: "mlsec", Version: "1.0"}, Targets: []string{m.name}}
		a := finding.Artifact{Path: m.name + ".bin", Size: int64(1 << 20 * (i + 3)), Format: "safetensors"}
		ar := finding.ArtifactResult{Artifact: a, Status: finding.StatusComplete}
		if m.sev != "" {
			sev, _ := finding.ParseSeverity(m.sev)
			ar.Findings = append(ar.Findings, finding.Finding{RuleID: "MLS-DEP-00" + fmt.Sprint(i+1), Severity: sev, Title: "Vulnerable dependency pinned in requirements.txt", Artifact: a,
				Evidence: finding.Evidence{Text: "transformers==4.30.0 (GHSA-example)"}})
		}
		rep.Artifacts = []finding.ArtifactResult{ar}
		rep.Finalize()
		b, _ := json.Marshal(rep)
		must(ts.do(t, analyst, "POST", "/api/reports?model="+m.name+"&version=1.0&owner="+m.owner+"&tags="+m.tags, b, nil), m.name)
		if m.sev == "" {
			must(ts.do(t, analyst, "POST", "/api/models/"+m.name+"/versions/1.0/evidence", []byte(`{"allow":true,"deny":[],"warn":[]}`), nil), "allow")
		}
	}
	must(ts.do(t, analyst, "POST", "/api/alerts", AlertRequest{Gateway: "gw-eu-1", Rule: "prompt-injection", Severity: "critical",
		Message: "Jailbreak pattern in 14 requests from one client", Model: "llama-3-8b-instruct", Client: "10.2.3.4"}, nil), "alert")
}

func TestE2EUI(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e UI test skipped in -short mode")
	}
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no chromium binary found (apt-get install -y chromium); skipping the headless browser test")
	}
	ts := newTestServer(t, store.SQLite)
	seedDemo(t, ts)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			if *screenshots == "" {
				return nil
			}
			buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				return err
			}
			if err := os.MkdirAll(*screenshots, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(*screenshots, name+".png"), buf, 0o644)
		})
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	base := ts.ts.URL
	// Log in with a token; the overview follows.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(css("#token")),
		shot("login"),
		chromedp.SendKeys(css("#token"), ts.admin),
		chromedp.Submit(css("#token")),
		chromedp.WaitVisible(css("#h-risk")),
		shot("overview"),
	); err != nil {
		t.Fatal(err)
	}
	if h1 := text("h1"); h1 != "Fleet overview" {
		t.Fatalf("after login: h1 %q", h1)
	}
	// The model list, then a model with a critical finding.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/models"),
		chromedp.WaitVisible(css("table")),
		shot("models"),
		chromedp.Click(`//a[normalize-space()="fraud-detector"]`),
		chromedp.WaitVisible(css("#h-find")),
		chromedp.Click(css(".findings summary")),
		chromedp.WaitVisible(css(".evidence pre")),
		shot("model"),
	); err != nil {
		t.Fatal(err)
	}
	body := text("main")
	for _, want := range []string{"fraud-detector", "critical", "MLS-PKL-001", "GLOBAL os.system; REDUCE", "denied", "no-code-execution", "failed", "torch", "demographic_parity_difference", "robust_accuracy", "reject"} {
		if !strings.Contains(body, want) {
			t.Errorf("model page lacks %q", want)
		}
	}
	// Findings explorer, then acknowledge an incident.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/findings?min_severity=high"),
		chromedp.WaitVisible(css("table")),
		shot("findings"),
		chromedp.Navigate(base+"/incidents"),
		chromedp.WaitVisible(css("table")),
		shot("incidents"),
		chromedp.Click(`//a[contains(., "prompt-injection")]`),
		chromedp.WaitVisible(css("#ack")),
		chromedp.Click(css("#ack")),
		chromedp.WaitVisible(css(".flash")),
		shot("incident"),
	); err != nil {
		t.Fatal(err)
	}
	if status := text("#incident-status"); status != "acknowledged" {
		t.Fatalf("incident status after acknowledging: %q", status)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/tokens"),
		chromedp.WaitVisible(css("table")),
		shot("tokens"),
	); err != nil {
		t.Fatal(err)
	}
	var ip struct{ Items []incidentView }
	ts.do(t, ts.admin, "GET", "/api/incidents?status=acknowledged", nil, &ip)
	if len(ip.Items) != 1 || !strings.Contains(ip.Items[0].Title, "prompt-injection") {
		t.Fatalf("acknowledged incidents via API: %+v", ip.Items)
	}
}
