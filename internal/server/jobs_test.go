package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/store"
	"github.com/mlsec/mlsec/internal/store/storetest"
)

// evilPickle is GLOBAL os.system + REDUCE: a critical finding.
var evilPickle = []byte("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")

func TestServerSideScanAndRescan(t *testing.T) {
	for _, b := range storetest.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			p := filepath.Join(root, "evil.pkl")
			if err := os.WriteFile(p, evilPickle, 0o644); err != nil {
				t.Fatal(err)
			}
			ts := newTestServer(t, b, func(c *Config) { c.ScanRoots = []string{root}; c.VulnDB = filepath.Join(root, "none.db") })
			ctx := context.Background()
			if code := ts.do(t, ts.admin, "POST", "/api/scans", ScanRequest{Path: "/etc/passwd"}, nil); code != 403 {
				t.Errorf("outside root: %d", code)
			}
			if code := ts.do(t, ts.admin, "POST", "/api/scans", ScanRequest{Path: filepath.Join(root, "..", filepath.Base(root), "..", "x")}, nil); code != 400 && code != 403 {
				t.Errorf("traversal: %d", code)
			}
			if code := ts.do(t, ts.admin, "POST", "/api/scans", ScanRequest{Path: p, Model: "evil", Version: "1"}, nil); code != 202 {
				t.Fatalf("queue scan: %d", code)
			}
			if ran, err := ts.RunOneJob(ctx, "w1"); !ran || err != nil {
				t.Fatalf("run job: %v %v", ran, err)
			}
			var md struct{ Model modelView }
			ts.do(t, ts.admin, "GET", "/api/models/evil", nil, &md)
			if md.Model.RiskName != "critical" {
				t.Fatalf("server-side scan: %+v", md.Model)
			}
			// First check records the fingerprints; nothing to re-scan.
			if n, err := ts.CheckChanges(ctx); err != nil || n != 0 {
				t.Fatalf("first check: %d %v", n, err)
			}
			// The rule set changes: one replica queues a re-scan, the other sees no change.
			if _, err := ts.st.SwapSetting(ctx, settingRules, "older", nil); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			counts := make([]int, 2)
			for i := range counts {
				wg.Add(1)
				go func() { defer wg.Done(); counts[i], _ = ts.CheckChanges(ctx) }()
			}
			wg.Wait()
			if counts[0]+counts[1] != 1 {
				t.Fatalf("re-scans queued: %v, want 1 in total", counts)
			}
			if ran, err := ts.RunOneJob(ctx, "w2"); !ran || err != nil {
				t.Fatalf("run re-scan: %v %v", ran, err)
			}
			if ran, _ := ts.RunOneJob(ctx, "w2"); ran {
				t.Fatal("queue should be empty")
			}
			var tl struct{ Items []store.TimelineEntry }
			ts.do(t, ts.admin, "GET", "/api/models/evil/timeline", nil, &tl)
			if len(tl.Items) == 0 || !strings.Contains(tl.Items[0].Reason, "re-scan: rule set changed") {
				t.Fatalf("timeline: %+v", tl.Items)
			}
		})
	}
}

// TestJobQueueSharedByReplicas: on PostgreSQL concurrent claimers never
// take the same job (FOR UPDATE SKIP LOCKED).
func TestJobQueueSharedByReplicas(t *testing.T) {
	dsn := storetest.DSN(t, store.Postgres)
	ctx := context.Background()
	var sts []*store.Store
	for i := 0; i < 3; i++ {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		sts = append(sts, st)
	}
	const n = 60
	for i := 0; i < n; i++ {
		if err := sts[0].Enqueue(ctx, "noop", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for i, st := range sts {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("replica%d/%d", i, w)
				for {
					j, err := st.ClaimJob(ctx, id, time.Hour)
					if err != nil {
						return
					}
					mu.Lock()
					if prev, dup := seen[j.ID]; dup {
						t.Errorf("job %d claimed by %s and %s", j.ID, prev, id)
					}
					seen[j.ID] = id
					mu.Unlock()
					if err := st.FinishJob(ctx, j.ID, nil, 0); err != nil {
						t.Error(err)
					}
				}
			}()
		}
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d jobs done, want %d", len(seen), n)
	}
}

func TestUISecurity(t *testing.T) {
	ts := newTestServer(t, store.SQLite)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(ts.ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("unauthenticated: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// Login without the form nonce is refused.
	resp, _ = c.PostForm(ts.ts.URL+"/login", url.Values{"token": {ts.admin}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without nonce: %d", resp.StatusCode)
	}
	// Proper login: nonce from the cookie the form page set.
	resp, _ = c.Get(ts.ts.URL + "/login")
	resp.Body.Close()
	u, _ := url.Parse(ts.ts.URL)
	var nonce string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == loginCookie {
			nonce = ck.Value
		}
	}
	resp, _ = c.PostForm(ts.ts.URL+"/login", url.Values{"token": {ts.admin}, "csrf": {nonce}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie: %+v", session)
	}
	resp, _ = c.Get(ts.ts.URL + "/")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("overview after login: %d", resp.StatusCode)
	}
	// A form post without the CSRF token is refused, even with the cookie.
	resp, _ = c.PostForm(ts.ts.URL+"/tokens", url.Values{"name": {"x"}, "role": {"admin"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("post without csrf: %d", resp.StatusCode)
	}
	// The API with the session cookie also needs the CSRF header for writes.
	req, _ := http.NewRequest("POST", ts.ts.URL+"/api/incidents", strings.NewReader(`{"title":"x"}`))
	resp, _ = c.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("api post with cookie, no csrf: %d", resp.StatusCode)
	}
	// A revoked token's session ends.
	var toks struct{ Items []store.Token }
	ts.do(t, ts.admin, "GET", "/api/tokens", nil, &toks)
	ts.do(t, ts.admin, "DELETE", fmt.Sprintf("/api/tokens/%d", toks.Items[len(toks.Items)-1].ID), nil, nil)
	resp, _ = c.Get(ts.ts.URL + "/")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("session of revoked token: %d", resp.StatusCode)
	}
}
