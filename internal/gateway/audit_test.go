package gateway

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

func TestAuditLinesComplete(t *testing.T) {
	up := upstream(t)
	k := makeKeys(t, t.TempDir())
	g := startGateway(t, baseConfig(up.URL, k, ""), Options{})
	rows := naturalRows(t, "logreg")[:2]
	do(t, "POST", g.srv.URL+"/v2/models/logreg/infer", k.scores, inferBody(rows))
	do(t, "POST", g.srv.URL+"/v2/models/logreg/infer", "", inferBody(rows))
	do(t, "GET", g.srv.URL+"/v2/models/logreg", k.label, nil)
	do(t, "POST", g.srv.URL+"/v2/models/logreg/infer", k.full, `{"inputs":[]}`)
	g.srv.Close()
	g.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(g.audit.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %s", sc.Text())
		}
		recs = append(recs, m)
	}
	if len(recs) != 4 {
		t.Fatalf("%d audit lines for 4 requests:\n%s", len(recs), g.audit.String())
	}
	for i, want := range []struct {
		identity, tier, decision, model string
		status                          float64
	}{
		{"key:" + k.ids["scores-user"], "scores", "allow", "logreg", 200},
		{"", "none", "deny-authn", "", 401},
		{"key:" + k.ids["label-user"], "label", "deny-authz", "logreg", 403},
		{"key:" + k.ids["full-user"], "full", "deny-invalid", "logreg", 400},
	} {
		r := recs[i]
		for _, f := range []string{"time", "request_id", "identity", "method", "path", "tier", "decision", "status", "latency_ms"} {
			if _, ok := r[f]; !ok {
				t.Errorf("line %d lacks %q: %v", i, f, r)
			}
		}
		if r["identity"] != want.identity || r["tier"] != want.tier || r["decision"] != want.decision || r["status"] != want.status {
			t.Errorf("line %d = %v, want %+v", i, r, want)
		}
		if want.model != "" && r["model"] != want.model {
			t.Errorf("line %d model %v", i, r["model"])
		}
		if _, err := time.Parse(time.RFC3339Nano, r["time"].(string)); err != nil {
			t.Errorf("line %d time %v", i, r["time"])
		}
	}
	body, _ := json.Marshal(inferBody(rows))
	if d := recs[0]["input_digest"]; d != digest(body) {
		t.Errorf("input digest %v, want %s", d, digest(body))
	}
	if recs[0]["rows"] != 2.0 {
		t.Errorf("rows %v", recs[0]["rows"])
	}
}

func TestAuditIntoLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, _ := ledger.GenerateKey("test.example/gateway")
	if err := ledger.Init(ctx, st, vkey); err != nil {
		t.Fatal(err)
	}
	st.Close()
	os.WriteFile(filepath.Join(dir, "ledger.key"), []byte(skey), 0o600)
	up := upstream(t)
	k := makeKeys(t, dir)
	cfg := baseConfig(up.URL, k, fmt.Sprintf(`
audit:
  ledger: {db: %s, key: %s, batch: 3, interval: 100ms}
`, filepath.Join(dir, "ledger.db"), filepath.Join(dir, "ledger.key")))
	g := startGateway(t, cfg, Options{})
	for range 5 {
		do(t, "POST", g.srv.URL+"/v2/models/logreg/infer", k.label, inferBody(naturalRows(t, "logreg")[:1]))
	}
	do(t, "POST", g.srv.URL+"/v2/models/logreg/infer", "", "{}")
	g.srv.Close()
	g.Close()
	st, err = store.Open(ctx, filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := ledger.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var evs []ledger.Event
	l.Scan(ctx, func(e ledger.Event) error { evs = append(evs, e); return nil })
	if len(evs) != 6 {
		t.Fatalf("%d ledger events, want 6", len(evs))
	}
	if e := evs[0]; e.Action != "x-gateway-request" || e.Actor != "key:"+k.ids["label-user"] || e.Subject.Name != "logreg" ||
		!strings.Contains(e.Reason, "decision=allow tier=label status=200") || len(e.Inputs) != 1 {
		t.Fatalf("event %+v", e)
	}
	if e := evs[5]; e.Actor != "anonymous" || !strings.Contains(e.Reason, "deny-authn") {
		t.Fatalf("denied event %+v", e)
	}
}

func TestJWT(t *testing.T) {
	dir := t.TempDir()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sk, _ := jwk.Import(priv)
	sk.Set(jwk.KeyIDKey, "k1")
	pk, _ := sk.PublicKey()
	set := jwk.NewSet()
	set.AddKey(pk)
	data, _ := json.Marshal(set)
	os.WriteFile(filepath.Join(dir, "jwks.json"), data, 0o600)

	sign := func(mod func(b *jwt.Builder)) string {
		b := jwt.NewBuilder().Issuer("https://idp.example").Audience([]string{"mlsec-gateway"}).Subject("carol").
			Expiration(time.Now().Add(time.Hour)).IssuedAt(time.Now()).Claim("groups", []string{"analysts"})
		if mod != nil {
			mod(b)
		}
		tok, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		s, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), sk))
		if err != nil {
			t.Fatal(err)
		}
		return string(s)
	}
	up := upstream(t)
	k := makeKeys(t, dir)
	cfg := baseConfig(up.URL, k, fmt.Sprintf(`
  - name: claims
    upstream_name: mlp
    grants: [{claim: "role=auditor", tier: metadata}]
jwt:
  issuer: https://idp.example
  audience: mlsec-gateway
  jwks_file: %s
`, filepath.Join(dir, "jwks.json")))
	g := startGateway(t, cfg, Options{})
	rows := naturalRows(t, "logreg")[:1]
	infer := g.srv.URL + "/v2/models/logreg/infer"

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	osk, _ := jwk.Import(other)
	osk.Set(jwk.KeyIDKey, "k1")
	forged, _ := jwt.Sign(must(jwt.NewBuilder().Issuer("https://idp.example").Audience([]string{"mlsec-gateway"}).Subject("carol").
		Expiration(time.Now().Add(time.Hour)).Claim("groups", []string{"ml-admins"}).Build()), jwt.WithKey(jwa.ES256(), osk))

	for _, tc := range []struct {
		name   string
		token  string
		url    string
		status int
	}{
		{"valid, group analysts → scores", sign(nil), infer, 200},
		{"wrong audience", sign(func(b *jwt.Builder) { b.Audience([]string{"other"}) }), infer, 401},
		{"wrong issuer", sign(func(b *jwt.Builder) { b.Issuer("https://evil.example") }), infer, 401},
		{"expired", sign(func(b *jwt.Builder) { b.Expiration(time.Now().Add(-time.Hour)) }), infer, 401},
		{"forged signature", string(forged), infer, 401},
		{"unsigned", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjYXJvbCJ9.", infer, 401},
		{"claim grant", sign(func(b *jwt.Builder) { b.Claim("role", "auditor") }), g.srv.URL + "/v2/models/claims", 200},
		{"claim missing", sign(nil), g.srv.URL + "/v2/models/claims", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if strings.HasSuffix(tc.url, "/infer") {
				body = inferBody(rows)
			}
			method := "GET"
			if body != nil {
				method = "POST"
			}
			r := do(t, method, tc.url, tc.token, body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 200 && body != nil {
				if outs := outputsOf(t, r); outs["output_probability"] == nil {
					t.Fatalf("scores tier via group claim: %s", r.body)
				}
			}
		})
	}
	// The JWKS may come from a URL too.
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(data) }))
	defer jwks.Close()
	g2 := startGateway(t, strings.Replace(cfg, "jwks_file: "+filepath.Join(dir, "jwks.json"), "jwks_url: "+jwks.URL, 1), Options{})
	if r := do(t, "POST", g2.srv.URL+"/v2/models/logreg/infer", sign(nil), inferBody(rows)); r.status != 200 {
		t.Fatalf("jwks url: %d %s", r.status, r.body)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestReloadRevokesWithoutDroppingConnections(t *testing.T) {
	dir := t.TempDir()
	up := upstream(t)
	k := makeKeys(t, dir)
	path := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(path, []byte(baseConfig(up.URL, k, "")), 0o600)
	gw, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(gw)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go gw.Watch(ctx)
	time.Sleep(100 * time.Millisecond)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	trace := func(key string) *http.Request {
		req, _ := http.NewRequest("GET", srv.URL+"/v2/models/logreg/ready", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		return req
	}
	get := func(key string) int {
		resp, err := client.Do(trace(key))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(k.label); s != 200 {
		t.Fatalf("before: %d", s)
	}
	// Revoke the key in the key file: the watcher reloads.
	kf, _ := ReadKeyFile(k.file)
	kf.Revoke(k.ids["label-user"], time.Now())
	kf.Write(k.file)
	deadline := time.Now().Add(5 * time.Second)
	for get(k.label) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("revocation not picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken configuration is refused and the running one stays.
	os.WriteFile(path, []byte("models: [\n"), 0o600)
	if err := gw.Reload(); err == nil {
		t.Fatal("broken configuration accepted")
	}
	if s := get(k.scores); s != 200 {
		t.Fatalf("after failed reload: %d", s)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections opened; reload dropped the keep-alive connection", n)
	}
}

func TestMTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, "test CA", nil, true)
	srvCert, srvKey := newCert(t, ca, caKey, "127.0.0.1", nil, false)
	cliCert, cliKey := newCert(t, ca, caKey, "svc-scoring", []string{"analysts"}, false)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	writePEM(t, filepath.Join(dir, "srv.pem"), "CERTIFICATE", srvCert.Raw)
	writeKey(t, filepath.Join(dir, "srv.key"), srvKey)
	up := upstream(t)
	k := makeKeys(t, dir)
	cfg := baseConfig(up.URL, k, fmt.Sprintf(`
tls: {cert: %s, key: %s, client_ca: %s}
`, filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key"), filepath.Join(dir, "ca.pem")))
	c, err := ParseConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(t.Context(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewUnstartedServer(g)
	srv.TLS = g.TLSConfig()
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cliCert.Raw}, PrivateKey: cliKey}}}}}
	without := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := string(mustJSON(inferBody(naturalRows(t, "logreg")[:1])))
	resp, err := withCert.Post(srv.URL+"/v2/models/logreg/infer", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("client certificate (OU analysts): %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = without.Post(srv.URL+"/v2/models/logreg/infer", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("no client certificate: %v %v", resp, err)
	}
	resp.Body.Close()
}

func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, ous []string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, OrganizationalUnit: ous},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        isCA, BasicConstraintsValid: true,
	}
	if cn == "127.0.0.1" {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, path string, k *ecdsa.PrivateKey) {
	t.Helper()
	der, _ := x509.MarshalECPrivateKey(k)
	writePEM(t, path, "EC PRIVATE KEY", der)
}
