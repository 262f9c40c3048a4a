// Package gateway is mlsec's inference gateway: a reverse proxy in front
// of Open Inference Protocol v2 REST servers (KServe, Triton, MLServer,
// Seldon, mlsec serve) and plain JSON-over-HTTP models that enforces, per
// request:
//
//   - authentication, denying by default: API keys (stored hashed,
//     compared in constant time), OIDC/JWT bearer tokens checked against
//     a JWKS (issuer, audience, expiry), or verified client certificates;
//   - authorization tiers per model and version: label, scores, full,
//     metadata, admin, granted per key, group, subject or token claim;
//   - limits per identity and model: token-bucket rate, query budget per
//     window, batch and body size, answered 429 with Retry-After; shared
//     across replicas through Redis when configured;
//   - input validation against the model's metadata and an optional
//     reference profile (400 with an OIP error body);
//   - detectors (package detect): PRADA extraction, k-NN query similarity,
//     PSI drift, each acting by log, alert, throttle or block;
//   - output hardening per tier: labels only, rounded, top-k or noised
//     scores;
//   - an audit line per request (optionally batched into the provenance
//     ledger), alerts to log, file, webhooks and ledger, Prometheus
//     metrics, health endpoints, and configuration reload without
//     dropping connections.
package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlsec/mlsec/internal/gateway/detect"
	"github.com/mlsec/mlsec/internal/gateway/limit"
	"github.com/mlsec/mlsec/internal/inference"
)

// Options are what a Gateway takes besides its configuration.
type Options struct {
	Logger *slog.Logger
	// Limiter replaces the limiter the configuration names (in-process,
	// or Redis when cfg.Redis is set).
	Limiter limit.Limiter
	// Ledger receives audit batches and alerts; it replaces
	// cfg.Audit.Ledger.
	Ledger LedgerAppender
	// AuditWriter replaces cfg.Audit.File.
	AuditWriter io.Writer
	// AlertWriter replaces cfg.Alerts.File.
	AlertWriter io.Writer
	// OnAlert is called for every delivered alert.
	OnAlert func(Alert)
	// Transport carries upstream requests (default: a tuned http.Transport).
	Transport http.RoundTripper
	// Now replaces time.Now for key expiry (tests).
	Now func() time.Time
	// Adjust, when set, edits every configuration Open and Reload read
	// (command-line overrides such as --listen and --redis).
	Adjust func(*Config)
}

// Gateway is an http.Handler. Create it with New, serve it, Close it.
type Gateway struct {
	opts    Options
	log     *slog.Logger
	cur     atomic.Pointer[runtimeState]
	limiter limit.Limiter
	owned   []io.Closer
	audit   *auditor
	alerts  *alerter
	metrics *metrics
	client  *http.Client
	ctx     context.Context
	cancel  context.CancelFunc
	path    string // configuration file, for Reload

	mu        sync.Mutex // serialises reloads
	detectors map[string]*modelDetectors
	ready     atomic.Int64 // unix nanos of the last good upstream readiness probe
	closed    atomic.Bool
}

type runtimeState struct {
	cfg    *Config
	auth   *authenticator
	models map[string]*model
	tls    *tls.Config
}

type model struct {
	cfg      *ModelConfig
	base     *url.URL
	rule     limit.Rule
	maxBatch int
	maxBody  int64
	profile  *detect.Profile
	det      *modelDetectors
	meta     *metaCache
}

type modelDetectors struct {
	fp                   string
	prada                *detect.PRADA
	sim                  *detect.Similarity
	drift                *detect.Drift
	pradaR, simR, driftR Reaction
}

// New builds a gateway from cfg.
func New(ctx context.Context, cfg *Config, opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Gateway{opts: opts, log: opts.Logger, metrics: newMetrics(), detectors: map[string]*modelDetectors{}}
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		}
	}
	g.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fail := func(err error) (*Gateway, error) { g.Close(); return nil, err }

	g.limiter = opts.Limiter
	if g.limiter == nil {
		if cfg.Redis != "" {
			r, err := limit.DialRedis(ctx, cfg.Redis, cfg.RedisPrefix)
			if err != nil {
				return fail(err)
			}
			g.limiter = r
			g.owned = append(g.owned, r)
		} else {
			g.limiter = limit.NewMemory()
		}
	}
	led := opts.Ledger
	if led == nil && cfg.Audit.Ledger != nil {
		l, closer, err := openLedger(ctx, cfg, cfg.Audit.Ledger)
		if err != nil {
			return fail(err)
		}
		led = l
		g.owned = append(g.owned, closer)
	}
	aw := opts.AuditWriter
	if aw == nil && cfg.Audit.File != "" {
		w, err := openAppend(cfg.Path(cfg.Audit.File))
		if err != nil {
			return fail(fmt.Errorf("audit file: %w", err))
		}
		aw = w
	}
	batch, interval := 256, time.Second
	if l := cfg.Audit.Ledger; l != nil {
		batch, interval = l.Batch, time.Duration(l.Interval)
	}
	g.audit = newAuditor(aw, led, batch, interval, g.log, g.metrics.auditErrs.Inc)
	alw := opts.AlertWriter
	if alw == nil && cfg.Alerts.File != "" {
		w, err := openAppend(cfg.Path(cfg.Alerts.File))
		if err != nil {
			return fail(fmt.Errorf("alert file: %w", err))
		}
		alw = w
	}
	g.alerts = &alerter{w: alw, hooks: cfg.Alerts.Webhooks, client: &http.Client{Timeout: 10 * time.Second}, led: led,
		log: g.log, onAlert: opts.OnAlert, cooldown: time.Duration(cfg.Alerts.Cooldown),
		metric: func(a Alert, ok bool) {
			g.metrics.alerts.WithLabelValues(a.Model, a.Detector, string(a.Action), strconv.FormatBool(ok)).Inc()
		}}
	if c, ok := alw.(io.Closer); ok && opts.AlertWriter == nil {
		g.alerts.closer = c
	}
	g.alerts.start()
	if err := g.Apply(cfg); err != nil {
		return fail(err)
	}
	return g, nil
}

// Open loads the configuration file at path and builds a gateway that
// Reload re-reads.
func Open(ctx context.Context, path string, opts Options) (*Gateway, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	if opts.Adjust != nil {
		opts.Adjust(cfg)
	}
	g, err := New(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	g.path = path
	return g, nil
}

func openAppend(path string) (io.Writer, error) {
	if path == "-" {
		return os.Stdout, nil
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// Config returns the configuration in force.
func (g *Gateway) Config() *Config { return g.cur.Load().cfg }

// Limiter returns the limiter in use.
func (g *Gateway) Limiter() limit.Limiter { return g.limiter }

// Reload re-reads the configuration file given to Open (and the key file,
// profiles and JWKS it names) and applies it. On error the running
// configuration stays.
func (g *Gateway) Reload() error {
	if g.path == "" {
		return g.Apply(g.Config())
	}
	cfg, err := LoadConfig(g.path)
	if err != nil {
		g.metrics.reloads.WithLabelValues("error").Inc()
		return err
	}
	if g.opts.Adjust != nil {
		g.opts.Adjust(cfg)
	}
	return g.Apply(cfg)
}

// Apply switches to cfg. Requests in flight finish under the old
// configuration; connections stay open. Detector state survives for
// models whose detector settings did not change. Listen address, TLS
// listener, Redis, audit and alert destinations are read once, at New.
func (g *Gateway) Apply(cfg *Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	rt, err := g.build(cfg)
	if err != nil {
		g.metrics.reloads.WithLabelValues("error").Inc()
		return err
	}
	if old := g.cur.Load(); old != nil {
		if old.cfg.Listen != cfg.Listen || old.cfg.Redis != cfg.Redis {
			g.log.Warn("gateway: listen and redis changes need a restart")
		}
	}
	g.cur.Store(rt)
	g.metrics.reloads.WithLabelValues("ok").Inc()
	return nil
}

func (g *Gateway) build(cfg *Config) (*runtimeState, error) {
	rt := &runtimeState{cfg: cfg, models: map[string]*model{}}
	a := &authenticator{now: g.opts.Now}
	if cfg.Keys != "" {
		kf, err := ReadKeyFile(cfg.Path(cfg.Keys))
		if err != nil {
			return nil, err
		}
		a.keys = newKeyIndex(kf)
	}
	if cfg.JWT != nil {
		v, err := newJWTVerifier(g.ctx, *cfg.JWT, cfg.Path)
		if err != nil {
			return nil, err
		}
		a.jwt = v
	}
	if t := cfg.TLS; t != nil && t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Path(t.Cert), cfg.Path(t.Key))
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		rt.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if t.ClientCA != "" {
			pem, err := os.ReadFile(cfg.Path(t.ClientCA))
			if err != nil {
				return nil, fmt.Errorf("tls client_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tls client_ca %s: no certificates", t.ClientCA)
			}
			rt.tls.ClientCAs = pool
			rt.tls.ClientAuth = tls.VerifyClientCertIfGiven
			if t.ClientAuth == "require" {
				rt.tls.ClientAuth = tls.RequireAndVerifyClientCert
			}
			a.mtls = true
		}
	}
	if a.keys == nil && a.jwt == nil && !a.mtls {
		g.log.Warn("gateway: no key file, JWT or client certificates configured; every request will be refused")
	}
	rt.auth = a
	keep := map[string]bool{}
	for i := range cfg.Models {
		mc := &cfg.Models[i]
		base, err := url.Parse(strings.TrimRight(mc.Upstream, "/"))
		if err != nil {
			return nil, fmt.Errorf("model %s upstream: %w", mc.Name, err)
		}
		m := &model{cfg: mc, base: base, maxBody: 4 << 20, meta: &metaCache{}}
		if l := mc.Limits; l != nil {
			m.rule = limit.Rule{Rate: l.Rate, Burst: l.Burst, ThrottleRate: l.ThrottleRate, Budget: l.Budget, Window: time.Duration(l.Window)}
			m.maxBatch = l.MaxBatch
			if l.MaxBody > 0 {
				m.maxBody = int64(l.MaxBody)
			}
		}
		if mc.Profile != "" {
			data, err := os.ReadFile(cfg.Path(mc.Profile))
			if err != nil {
				return nil, fmt.Errorf("model %s profile: %w", mc.Name, err)
			}
			if m.profile, err = detect.ParseProfile(data); err != nil {
				return nil, fmt.Errorf("model %s profile %s: %w", mc.Name, mc.Profile, err)
			}
		}
		if m.det, err = g.detectorsFor(mc, m.profile); err != nil {
			return nil, err
		}
		keep[mc.Name] = true
		rt.models[mc.Name] = m
	}
	for name := range g.detectors {
		if !keep[name] {
			delete(g.detectors, name)
		}
	}
	return rt, nil
}

// detectorsFor returns the model's detectors, reusing the running ones
// when their settings (and profile) are unchanged.
func (g *Gateway) detectorsFor(mc *ModelConfig, p *detect.Profile) (*modelDetectors, error) {
	d := mc.Detectors
	if d == nil || (d.PRADA == nil && d.Similarity == nil && d.Drift == nil) {
		delete(g.detectors, mc.Name)
		return nil, nil
	}
	fpb, _ := json.Marshal(struct {
		D *Detectors
		P *detect.Profile
	}{d, p})
	fp := string(fpb)
	if old := g.detectors[mc.Name]; old != nil && old.fp == fp {
		return old, nil
	}
	md := &modelDetectors{fp: fp}
	var scale []float64
	if p != nil {
		scale = p.Scale()
	}
	if c := d.PRADA; c != nil {
		md.prada = detect.NewPRADA(detect.PRADAConfig{Threshold: c.Threshold, MinQueries: c.MinQueries, Window: c.Window,
			MaxGrowing: c.MaxGrowing, Every: c.Every, MaxIdentities: c.MaxIdentities, Scale: scale})
		md.pradaR = c.Reaction
	}
	if c := d.Similarity; c != nil {
		thr, k := c.Threshold, c.K
		if thr == 0 && p != nil && p.SimilarityThreshold > 0 {
			thr = p.SimilarityThreshold
			if k == 0 {
				k = p.SimilarityK
			}
		}
		if thr <= 0 {
			return nil, fmt.Errorf("model %s: similarity detector needs a threshold (or a profile with similarity_threshold)", mc.Name)
		}
		md.sim = detect.NewSimilarity(detect.SimilarityConfig{K: k, Buffer: c.Buffer, Threshold: thr, MaxIdentities: c.MaxIdentities, Scale: scale})
		md.simR = c.Reaction
	}
	if c := d.Drift; c != nil {
		dr, err := detect.NewDrift(p, detect.DriftConfig{Window: c.Window, Threshold: c.Threshold})
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", mc.Name, err)
		}
		md.drift = dr
		md.driftR = c.Reaction
	}
	g.detectors[mc.Name] = md
	return md, nil
}

// TLSConfig returns a server TLS configuration that follows reloads
// (certificates and client CAs), or nil when the configuration has no TLS.
func (g *Gateway) TLSConfig() *tls.Config {
	if g.cur.Load().tls == nil {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return g.cur.Load().tls, nil
		},
	}
}

// Close stops background work, flushes the audit trail and closes what
// the gateway opened.
func (g *Gateway) Close() error {
	if !g.closed.CompareAndSwap(false, true) {
		return nil
	}
	g.cancel()
	if g.audit != nil {
		g.audit.close()
	}
	if g.alerts != nil {
		g.alerts.close()
	}
	var errs []error
	for _, c := range g.owned {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// metaCache holds a model's upstream metadata per version.
type metaCache struct {
	mu sync.Mutex
	m  map[string]*metaEntry
}

type metaEntry struct {
	md      *inference.Metadata
	fetched time.Time
}

const metaTTL = 5 * time.Minute

func (g *Gateway) metadata(ctx context.Context, m *model, version string) (*inference.Metadata, error) {
	m.meta.mu.Lock()
	defer m.meta.mu.Unlock()
	if e := m.meta.m[version]; e != nil && time.Since(e.fetched) < metaTTL {
		return e.md, nil
	}
	u := m.base.JoinPath("v2", "models", m.cfg.UpstreamName)
	if version != "" {
		u = u.JoinPath("versions", version)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("model metadata: upstream answered %s", resp.Status)
	}
	var md inference.Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	if m.meta.m == nil {
		m.meta.m = map[string]*metaEntry{}
	}
	m.meta.m[version] = &metaEntry{md: &md, fetched: time.Now()}
	return &md, nil
}

// exchange is one request's bookkeeping.
type exchange struct {
	g     *Gateway
	w     http.ResponseWriter
	r     *http.Request
	start time.Time
	rec   AuditRecord
}

func (x *exchange) finish(status int, decision, reason string) {
	x.rec.Status, x.rec.Decision = status, decision
	if reason != "" && x.rec.Reason == "" {
		x.rec.Reason = reason
	}
	d := time.Since(x.start)
	x.rec.LatencyMS = float64(d.Microseconds()) / 1000
	x.g.audit.record(x.rec)
	x.g.metrics.requests.WithLabelValues(x.rec.Model, x.rec.Tier, decision, strconv.Itoa(status)).Inc()
	x.g.metrics.latency.WithLabelValues(x.rec.Model).Observe(d.Seconds())
}

// fail answers with an OIP error body.
func (x *exchange) fail(status int, decision, msg string) {
	writeJSON(x.w, status, map[string]string{"error": msg})
	x.finish(status, decision, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	writeBody(w, status, b)
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(c rune) bool {
		return !(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
	}) {
		return id
	}
	var b [8]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

// route is what a request path addresses.
type route struct {
	model   string
	version string
	op      string // "infer", "metadata", "ready", "other", "server"
	rest    string // for json models and admin passthrough: path after the model
}

func parseRoute(path string) (route, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 0 {
		return route{}, false
	}
	switch parts[0] {
	case "v2":
		parts = parts[1:]
		if len(parts) == 0 {
			return route{op: "server"}, true
		}
		if parts[0] == "repository" && len(parts) >= 3 && parts[1] == "models" {
			return route{model: parts[2], op: "other", rest: "/" + strings.Join(parts, "/")}, true
		}
		if parts[0] != "models" || len(parts) < 2 {
			return route{}, false
		}
		rt := route{model: parts[1]}
		rest := parts[2:]
		if len(rest) >= 2 && rest[0] == "versions" {
			rt.version, rest = rest[1], rest[2:]
			if !inference.ValidName(rt.version) {
				return route{}, false
			}
		}
		switch {
		case len(rest) == 0:
			rt.op = "metadata"
		case len(rest) == 1 && rest[0] == "infer":
			rt.op = "infer"
		case len(rest) == 1 && rest[0] == "ready":
			rt.op = "ready"
		default:
			rt.op = "other"
			rt.rest = "/" + strings.Join(rest, "/")
		}
		return rt, inference.ValidName(rt.model)
	case "models":
		if len(parts) < 2 || !inference.ValidName(parts[1]) {
			return route{}, false
		}
		return route{model: parts[1], op: "json", rest: "/" + strings.Join(parts[2:], "/")}, true
	}
	return route{}, false
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := g.cur.Load()
	switch r.URL.Path {
	case "/healthz", "/v2/health/live":
		writeJSON(w, http.StatusOK, map[string]any{"live": true})
		return
	case "/readyz", "/v2/health/ready":
		ok := g.upstreamReady(r.Context(), rt)
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"ready": ok})
		return
	}
	if rt.cfg.MetricsPath != "-" && r.URL.Path == rt.cfg.MetricsPath {
		g.metrics.handler.ServeHTTP(w, r)
		return
	}
	x := &exchange{g: g, w: w, r: r, start: time.Now()}
	x.rec = AuditRecord{Time: x.start.UTC(), RequestID: requestID(r), Method: r.Method, Path: r.URL.Path, Tier: TierNone.String(), Remote: r.RemoteAddr}
	w.Header().Set("X-Request-Id", x.rec.RequestID)

	id, err := rt.auth.authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mlsec-gateway"`)
		x.fail(http.StatusUnauthorized, DecisionDenyAuthn, "authentication required")
		return
	}
	x.rec.Identity, x.rec.Auth = id.ID, id.Kind

	ro, ok := parseRoute(r.URL.Path)
	if !ok {
		x.fail(http.StatusNotFound, DecisionNotFound, "not found")
		return
	}
	if ro.op == "server" {
		g.serverMetadata(x, rt, id)
		return
	}
	m := rt.models[ro.model]
	if m == nil || (ro.op == "json") != (m.cfg.Protocol == "json") {
		x.fail(http.StatusNotFound, DecisionNotFound, fmt.Sprintf("unknown model %q", ro.model))
		return
	}
	x.rec.Model, x.rec.Version = ro.model, ro.version
	tier := grantedTier(m.cfg.Grants, id, ro.version)
	x.rec.Tier = tier.String()
	need := TierAdmin
	switch {
	case ro.op == "infer" && r.Method == http.MethodPost,
		ro.op == "json" && r.Method == http.MethodPost,
		ro.op == "ready" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		need = TierLabel
	case (ro.op == "metadata" || ro.op == "json") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		need = TierMetadata
	}
	if tier < need {
		if tier == TierNone {
			// Do not reveal which models exist to those without a grant.
			x.fail(http.StatusForbidden, DecisionDenyAuthz, "forbidden")
			return
		}
		x.fail(http.StatusForbidden, DecisionDenyAuthz, fmt.Sprintf("tier %s may not %s %s (needs %s)", tier, r.Method, r.URL.Path, need))
		return
	}
	switch {
	case ro.op == "infer":
		g.infer(x, m, ro, id, tier)
	case ro.op == "json" && r.Method == http.MethodPost:
		g.inferJSON(x, m, ro, id, tier)
	default:
		g.passthrough(x, m, ro, id)
	}
}

// readBody reads the request body up to the model's limit.
func (g *Gateway) readBody(x *exchange, m *model) ([]byte, bool) {
	if r := x.r; r.ContentLength > m.maxBody {
		x.fail(http.StatusRequestEntityTooLarge, DecisionDenyLimit, fmt.Sprintf("request body over %d bytes", m.maxBody))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, m.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			x.fail(http.StatusRequestEntityTooLarge, DecisionDenyLimit, fmt.Sprintf("request body over %d bytes", m.maxBody))
		} else {
			x.fail(http.StatusBadRequest, DecisionDenyInvalid, "read request: "+err.Error())
		}
		return nil, false
	}
	sum := sha256.Sum256(body)
	x.rec.InputDigest = "sha256:" + hex.EncodeToString(sum[:])
	return body, true
}

// admit applies batch size and rate/budget limits.
func (g *Gateway) admit(x *exchange, m *model, id *Identity, rows int) bool {
	x.rec.Rows = rows
	if m.maxBatch > 0 && rows > m.maxBatch {
		x.fail(http.StatusBadRequest, DecisionDenyLimit, fmt.Sprintf("batch of %d rows over the limit of %d", rows, m.maxBatch))
		return false
	}
	res, err := g.limiter.Allow(x.r.Context(), id.ID+"|"+m.cfg.Name, m.rule, int64(max(rows, 1)))
	if err != nil {
		g.log.Error("gateway: limiter failed; refusing", "error", err)
		x.fail(http.StatusServiceUnavailable, DecisionError, "limits unavailable")
		return false
	}
	if !res.Allowed {
		secs := int(math.Ceil(res.RetryAfter.Seconds()))
		x.w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		if res.Reason == limit.ReasonBlocked {
			x.fail(http.StatusForbidden, DecisionDenyBlocked, "blocked after a detector alert")
			return false
		}
		x.fail(http.StatusTooManyRequests, DecisionDenyLimit, fmt.Sprintf("%s limit exceeded", res.Reason))
		return false
	}
	if res.Remaining >= 0 {
		x.w.Header().Set("X-RateLimit-Remaining", strconv.FormatInt(res.Remaining, 10))
	}
	return true
}

func (g *Gateway) upstreamURL(m *model, ro route, suffix string) string {
	u := m.base.JoinPath("v2", "models", m.cfg.UpstreamName)
	if ro.version != "" {
		u = u.JoinPath("versions", ro.version)
	}
	if suffix != "" {
		u = u.JoinPath(suffix)
	}
	return u.String()
}

// forward sends body upstream and returns the response body (bounded).
func (g *Gateway) forward(x *exchange, m *model, method, target string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(x.r.Context(), time.Duration(g.cur.Load().cfg.UpstreamTimeout))
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", x.rec.RequestID)
	t0 := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	g.metrics.upstream.WithLabelValues(m.cfg.Name).Observe(time.Since(t0).Seconds())
	return resp.StatusCode, out, err
}

func (g *Gateway) infer(x *exchange, m *model, ro route, id *Identity, tier Tier) {
	body, ok := g.readBody(x, m)
	if !ok {
		return
	}
	if x.r.Header.Get("Inference-Header-Content-Length") != "" {
		x.fail(http.StatusBadRequest, DecisionDenyInvalid, "the binary tensor data extension is not supported by the gateway")
		return
	}
	p, err := parseInferRequest(body)
	if err != nil {
		x.fail(http.StatusBadRequest, DecisionDenyInvalid, strings.TrimPrefix(err.Error(), "bad request: "))
		return
	}
	var order []string
	if m.cfg.Validate == nil || *m.cfg.Validate {
		md, err := g.metadata(x.r.Context(), m, ro.version)
		if err != nil {
			g.log.Error("gateway: metadata", "model", m.cfg.Name, "error", err)
			x.fail(http.StatusBadGateway, DecisionError, "model metadata unavailable")
			return
		}
		if err := p.validate(md); err != nil {
			x.fail(http.StatusBadRequest, DecisionDenyInvalid, strings.TrimPrefix(err.Error(), "bad request: "))
			return
		}
		for _, t := range md.Inputs {
			order = append(order, t.Name)
		}
	}
	var rows [][]float64
	if m.profile != nil || m.det != nil {
		rows = p.rows(order)
	}
	if m.profile != nil && *m.cfg.RangeTolerance >= 0 {
		for i, row := range rows {
			if err := m.profile.CheckRow(row, *m.cfg.RangeTolerance); err != nil {
				x.fail(http.StatusBadRequest, DecisionDenyInvalid, fmt.Sprintf("row %d: %v", i, err))
				return
			}
		}
	}
	if !g.admit(x, m, id, p.batch) {
		return
	}
	if tier < TierFull && len(p.req.Outputs) > 0 {
		// Below full the gateway needs every output to derive the
		// hardened ones; which raw outputs were asked for does not matter.
		p.req.Outputs = nil
		if body, err = json.Marshal(&p.req); err != nil {
			x.fail(http.StatusInternalServerError, DecisionError, "re-encode request")
			return
		}
	}
	status, out, err := g.forward(x, m, http.MethodPost, g.upstreamURL(m, ro, "infer"), body)
	if err != nil {
		g.log.Error("gateway: upstream", "model", m.cfg.Name, "error", err)
		x.fail(http.StatusBadGateway, DecisionError, "upstream unavailable")
		return
	}
	if status != http.StatusOK {
		writeBody(x.w, status, upstreamError(out, status))
		x.finish(status, DecisionError, fmt.Sprintf("upstream status %d", status))
		return
	}
	needParse := tier < TierFull || (m.det != nil && m.det.prada != nil)
	if needParse {
		var resp oipResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			x.fail(http.StatusBadGateway, DecisionError, "upstream response is not OIP JSON")
			return
		}
		var classes []int
		if m.det != nil && m.det.prada != nil {
			classes = predictedClasses(resp.Outputs, m.cfg.Output, p.batch)
		}
		if g.detect(x, m, ro, id, rows, classes) {
			return
		}
		if tier < TierFull {
			if err := hardenOIP(&resp, tier, m.cfg.Output, p.batch, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))); err != nil {
				g.log.Error("gateway: harden", "model", m.cfg.Name, "error", err)
				x.fail(http.StatusBadGateway, DecisionError, "cannot harden the model's outputs for this tier")
				return
			}
			if out, err = json.Marshal(&resp); err != nil {
				x.fail(http.StatusInternalServerError, DecisionError, "encode response")
				return
			}
		}
	} else if g.detect(x, m, ro, id, rows, nil) {
		return
	}
	writeBody(x.w, http.StatusOK, out)
	x.finish(http.StatusOK, DecisionAllow, "")
}

// upstreamError passes an upstream OIP error body on, or wraps a non-JSON one.
func upstreamError(body []byte, status int) []byte {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		b, _ := json.Marshal(e)
		return b
	}
	b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("upstream answered %d %s", status, http.StatusText(status))})
	return b
}

func (g *Gateway) inferJSON(x *exchange, m *model, ro route, id *Identity, tier Tier) {
	body, ok := g.readBody(x, m)
	if !ok {
		return
	}
	rows, n, err := parseJSONRows(body, m.cfg.JSON.Input)
	if err != nil {
		x.fail(http.StatusBadRequest, DecisionDenyInvalid, strings.TrimPrefix(err.Error(), "bad request: "))
		return
	}
	if m.profile != nil && *m.cfg.RangeTolerance >= 0 {
		for i, row := range rows {
			if err := m.profile.CheckRow(row, *m.cfg.RangeTolerance); err != nil {
				x.fail(http.StatusBadRequest, DecisionDenyInvalid, fmt.Sprintf("row %d: %v", i, err))
				return
			}
		}
	}
	if !g.admit(x, m, id, n) {
		return
	}
	target := m.base.JoinPath(ro.rest).String()
	status, out, err := g.forward(x, m, http.MethodPost, target, body)
	if err != nil {
		g.log.Error("gateway: upstream", "model", m.cfg.Name, "error", err)
		x.fail(http.StatusBadGateway, DecisionError, "upstream unavailable")
		return
	}
	if status != http.StatusOK {
		writeBody(x.w, status, upstreamError(out, status))
		x.finish(status, DecisionError, fmt.Sprintf("upstream status %d", status))
		return
	}
	hardened, classes, err := hardenJSON(out, tier, m.cfg.JSON, m.cfg.Output, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	if err != nil {
		x.fail(http.StatusBadGateway, DecisionError, "cannot harden the model's response for this tier")
		return
	}
	if len(classes) != len(rows) {
		classes = nil
	}
	if g.detect(x, m, ro, id, rows, classes) {
		return
	}
	writeBody(x.w, http.StatusOK, hardened)
	x.finish(http.StatusOK, DecisionAllow, "")
}

// detect runs the model's detectors over the request rows and carries out
// their actions. It reports whether the request was answered (blocked).
func (g *Gateway) detect(x *exchange, m *model, ro route, id *Identity, rows [][]float64, classes []int) bool {
	d := m.det
	if d == nil || len(rows) == 0 {
		return false
	}
	var fired []struct {
		v detect.Verdict
		r Reaction
	}
	add := func(v detect.Verdict, r Reaction) {
		for _, f := range fired {
			if f.v.Detector == v.Detector {
				return
			}
		}
		fired = append(fired, struct {
			v detect.Verdict
			r Reaction
		}{v, r})
	}
	for i, row := range rows {
		if d.prada != nil {
			c := 0
			if classes != nil {
				c = classes[i]
			}
			if v := d.prada.Observe(id.ID, row, c); v.Triggered {
				add(v, d.pradaR)
			}
		}
		if d.sim != nil {
			if v := d.sim.Observe(id.ID, row); v.Triggered {
				add(v, d.simR)
			}
		}
		if d.drift != nil {
			if v, ok := d.drift.Observe(row); ok && v.Triggered {
				add(v, d.driftR)
			}
		}
	}
	blocked := false
	now := time.Now().UTC()
	for _, f := range fired {
		g.metrics.detectors.WithLabelValues(m.cfg.Name, f.v.Detector).Inc()
		x.rec.Alerts = append(x.rec.Alerts, f.v.Detector)
		who := id.ID
		if f.v.Detector == detect.NameDrift {
			who = ""
		}
		al := Alert{Time: now, Detector: f.v.Detector, Identity: who, Model: m.cfg.Name, Version: ro.version,
			Score: f.v.Score, Threshold: f.v.Threshold, Queries: f.v.Queries, Feature: f.v.Feature, Action: f.r.Action,
			Message: alertMessage(f.v, who, m.cfg.Name)}
		switch f.r.Action {
		case ActionLog:
			g.log.Info("gateway detector", "detector", al.Detector, "identity", al.Identity, "model", al.Model, "score", al.Score)
			continue
		case ActionThrottle, ActionBlock:
			if who != "" {
				p := limit.PenaltyThrottle
				if f.r.Action == ActionBlock {
					p, blocked = limit.PenaltyBlock, true
				}
				if err := g.limiter.Penalize(x.r.Context(), id.ID+"|"+m.cfg.Name, p, time.Duration(f.r.For)); err != nil {
					g.log.Error("gateway: penalize", "error", err)
				}
			}
		}
		g.alerts.raise(al)
	}
	if blocked {
		x.fail(http.StatusForbidden, DecisionDenyBlocked, "blocked after a detector alert")
		return true
	}
	return false
}

func alertMessage(v detect.Verdict, who, model string) string {
	switch v.Detector {
	case detect.NamePRADA:
		return fmt.Sprintf("possible model extraction by %s on %s: Shapiro-Wilk W = %.4f of %d minimum distances, below %.3f", who, model, v.Score, v.Queries, v.Threshold)
	case detect.NameSimilarity:
		return fmt.Sprintf("possible black-box adversarial attack by %s on %s: mean k-NN distance %.4g to recent queries, below %.4g", who, model, v.Score, v.Threshold)
	case detect.NameDrift:
		return fmt.Sprintf("input drift on %s: PSI %.3f on feature %s over %d rows, above %.3f", model, v.Score, v.Feature, v.Queries, v.Threshold)
	}
	return v.Detector
}

// passthrough forwards metadata, readiness and admin requests, streaming
// the response.
func (g *Gateway) passthrough(x *exchange, m *model, ro route, id *Identity) {
	if !g.admit(x, m, id, 0) {
		return
	}
	var target string
	switch {
	case m.cfg.Protocol == "json":
		target = m.base.JoinPath(ro.rest).String()
	case ro.op == "ready":
		target = g.upstreamURL(m, ro, "ready")
	case ro.op == "metadata":
		target = g.upstreamURL(m, ro, "")
	case strings.HasPrefix(ro.rest, "/repository/"):
		target = m.base.JoinPath("v2", "repository", "models", m.cfg.UpstreamName).JoinPath(strings.SplitN(ro.rest, "/", 5)[4:]...).String()
	default:
		target = g.upstreamURL(m, ro, ro.rest)
	}
	if x.r.URL.RawQuery != "" {
		target += "?" + x.r.URL.RawQuery
	}
	ctx, cancel := context.WithTimeout(x.r.Context(), time.Duration(g.cur.Load().cfg.UpstreamTimeout))
	defer cancel()
	var body io.Reader
	if x.r.Body != nil && x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		body = http.MaxBytesReader(x.w, x.r.Body, m.maxBody)
	}
	req, err := http.NewRequestWithContext(ctx, x.r.Method, target, body)
	if err != nil {
		x.fail(http.StatusBadRequest, DecisionDenyInvalid, "bad request")
		return
	}
	if ct := x.r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("X-Request-Id", x.rec.RequestID)
	resp, err := g.client.Do(req)
	if err != nil {
		x.fail(http.StatusBadGateway, DecisionError, "upstream unavailable")
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Content-Length", "Content-Disposition", "Etag", "Last-Modified"} {
		if v := resp.Header.Get(h); v != "" {
			x.w.Header().Set(h, v)
		}
	}
	x.w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(x.w, resp.Body)
	decision := DecisionAllow
	if resp.StatusCode >= 400 {
		decision = DecisionError
	}
	x.finish(resp.StatusCode, decision, "")
}

// serverMetadata answers GET /v2 for any authenticated caller that holds a
// grant on some model.
func (g *Gateway) serverMetadata(x *exchange, rt *runtimeState, id *Identity) {
	var names []string
	for name, m := range rt.models {
		if grantedTier(m.cfg.Grants, id, "") > TierNone {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		x.fail(http.StatusForbidden, DecisionDenyAuthz, "forbidden")
		return
	}
	slices.Sort(names)
	writeJSON(x.w, http.StatusOK, map[string]any{"name": "mlsec-gateway", "version": "v2", "extensions": []string{}, "models": names})
	x.finish(http.StatusOK, DecisionAllow, "")
}

// upstreamReady probes every upstream's /v2/health/ready (plain JSON
// models: reachable at all), caching success for a second.
func (g *Gateway) upstreamReady(ctx context.Context, rt *runtimeState) bool {
	if time.Since(time.Unix(0, g.ready.Load())) < time.Second {
		return true
	}
	seen := map[string]bool{}
	for _, m := range rt.models {
		base := m.base.String()
		if seen[base] {
			continue
		}
		seen[base] = true
		u := m.base.JoinPath("v2", "health", "ready").String()
		if m.cfg.Protocol == "json" {
			u = base
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(cctx, http.MethodGet, u, nil)
		resp, err := g.client.Do(req)
		cancel()
		if err != nil {
			return false
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if m.cfg.Protocol != "json" && resp.StatusCode != http.StatusOK {
			return false
		}
	}
	g.ready.Store(time.Now().UnixNano())
	return true
}
