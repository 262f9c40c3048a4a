package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
	"github.com/mlsec/mlsec/internal/store/storetest"
)

// BenchmarkPostgresScale loads 10,000 models and 1,000,000 findings into
// PostgreSQL with COPY, then measures the list and detail pages (API and
// UI) and the ingestion of uploaded reports. Each sub-benchmark reports
// its p50 and p95 latency.
//
//	go test -run '^$' -bench PostgresScale -benchtime 200x ./internal/server
func BenchmarkPostgresScale(b *testing.B) {
	const nModels, nFindings = 10_000, 1_000_000
	ctx := context.Background()
	dsn := storetest.NewSchema(b)
	st, err := store.Open(ctx, dsn, store.WithMaxConns(16))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	skey, vkey, _ := ledger.GenerateKey("bench.mlsec/server")
	s, err := New(ctx, Config{Store: st, LedgerKey: skey, LedgerPub: vkey, Workers: -1})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := s.Bootstrap(ctx)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	loadScale(b, dsn, nModels, nFindings)
	load := time.Since(start)
	b.Logf("bulk load (COPY) of %d models and %d findings: %s (%.0f findings/s)", nModels, nFindings, load.Round(time.Millisecond), nFindings/load.Seconds())

	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	sid := randomString()
	tok, _ := st.TokenByHash(ctx, hashSecret(admin))
	if err := st.CreateSession(ctx, hashSecret(sid), store.Session{TokenID: tok.ID, CSRF: "x", Expires: time.Now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, path string, cookie bool) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if cookie {
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sid})
		} else {
			req.Header.Set("Authorization", "Bearer "+admin)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	model := func() string { return fmt.Sprintf("model-%05d", rng.IntN(nModels)) }
	cases := []struct {
		name   string
		path   func() string
		cookie bool
	}{
		{"ui-overview", func() string { return "/" }, true},
		{"ui-models-list", func() string { return "/models" }, true},
		{"ui-models-search", func() string { return "/models?q=" + fmt.Sprint(rng.IntN(1000)) + "&min_risk=high" }, true},
		{"ui-models-page-100", func() string { return "/models?offset=5000" }, true},
		{"ui-model-detail", func() string { return "/models/" + model() }, true},
		{"ui-findings-critical", func() string { return "/findings?min_severity=critical" }, true},
		{"api-models-list", func() string { return "/api/models?limit=50" }, false},
		{"api-model-version", func() string { return "/api/models/" + model() + "/versions/1.0" }, false},
		{"api-findings-rule", func() string { return "/api/findings?rule=MLS-PKL-003&limit=50" }, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				p := c.path()
				t0 := time.Now()
				get(b, p, c.cookie)
				lat = append(lat, time.Since(t0))
			}
			reportPercentiles(b, lat)
		})
	}
	b.Run("ingest-report-100-findings", func(b *testing.B) {
		body := benchReport(100)
		lat := make([]time.Duration, 0, b.N)
		t0 := time.Now()
		for i := 0; i < b.N; i++ {
			q := url.Values{"model": {fmt.Sprintf("ingest-%d", i%500)}, "version": {fmt.Sprint(i)}}
			req, _ := http.NewRequest("POST", ts.URL+"/api/reports?"+q.Encode(), bytesReader(body))
			req.Header.Set("Authorization", "Bearer "+admin)
			t1 := time.Now()
			resp, err := ts.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				b.Fatalf("ingest: %d", resp.StatusCode)
			}
			lat = append(lat, time.Since(t1))
		}
		el := time.Since(t0).Seconds()
		b.ReportMetric(float64(b.N)/el, "reports/s")
		b.ReportMetric(float64(b.N*100)/el, "findings/s")
		reportPercentiles(b, lat)
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.95), "p95_ms")
}

type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &byteReader{b: b} }

func benchReport(n int) []byte {
	a := finding.Artifact{Path: "model.pt", Size: 1 << 20, SHA256: "cd" + fmt.Sprintf("%062d", 0), Format: "pytorch-zip"}
	ar := finding.ArtifactResult{Artifact: a, Status: finding.StatusComplete}
	for i := 0; i < n; i++ {
		ar.Findings = append(ar.Findings, finding.Finding{RuleID: fmt.Sprintf("MLS-PKL-%03d", i%12), Severity: finding.Severity(i % 5),
			Title: "Pickle imports a global", Artifact: a, Location: finding.Location{Member: "archive/data.pkl", Offset: off(int64(i * 10))},
			Evidence: finding.Evidence{Text: fmt.Sprintf("GLOBAL module%d.name", i)}})
	}
	rep := finding.Report{Tool: finding.Tool{Name: "mlsec", Version: "bench"}, Targets: []string{"model.pt"}, Artifacts: []finding.ArtifactResult{ar}}
	rep.Finalize()
	out, _ := json.Marshal(rep)
	return out
}

// loadScale bulk-loads models, one version each, and findings with COPY.
func loadScale(b *testing.B, dsn string, nModels, nFindings int) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	now := time.Now().UTC()
	rng := rand.New(rand.NewPCG(3, 4))
	per := nFindings / nModels
	counts := make([][5]int, nModels)
	risk := make([]int, nModels)
	sevs := make([]int, nFindings)
	for i := range sevs {
		// Mostly info/low/medium, some high, few critical.
		x := rng.IntN(1000)
		switch {
		case x < 5:
			sevs[i] = 4
		case x < 60:
			sevs[i] = 3
		case x < 300:
			sevs[i] = 2
		case x < 650:
			sevs[i] = 1
		}
		m := i / per
		counts[m][sevs[i]]++
		risk[m] = max(risk[m], sevs[i])
	}
	policies := []string{"pass", "fail", ""}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"models"},
		[]string{"id", "name", "owner", "tags", "risk", "policy", "latest_version", "versions", "n_info", "n_low", "n_medium", "n_high", "n_critical", "created", "updated"},
		pgx.CopyFromSlice(nModels, func(i int) ([]any, error) {
			c := counts[i]
			return []any{int64(i + 1), fmt.Sprintf("model-%05d", i), fmt.Sprintf("team-%d", i%40), ",prod,tabular,", risk[i], policies[i%3], int64(i + 1), 1,
				c[0], c[1], c[2], c[3], c[4], now, now}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"model_versions"},
		[]string{"id", "model_id", "version", "digest", "format", "size", "source_uri", "signature", "status", "created", "updated"},
		pgx.CopyFromSlice(nModels, func(i int) ([]any, error) {
			return []any{int64(i + 1), int64(i + 1), "1.0", fmt.Sprintf("sha256:%064x", i), "pytorch-zip", int64(1 << 24), fmt.Sprintf("s3://models/m%d/model.pt", i), "verified", "complete", now, now}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	detail := `{"rule_id":"MLS-PKL-003","severity":"medium","title":"Pickle imports a global","artifact":{"path":"model.pt","size":16777216},"location":{"member":"archive/data.pkl","offset":1234},"evidence":{"text":"GLOBAL collections.OrderedDict"}}`
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"findings"},
		[]string{"model_id", "version_id", "rule_id", "severity", "title", "path", "location", "detail", "created"},
		pgx.CopyFromSlice(nFindings, func(i int) ([]any, error) {
			m := int64(i/per + 1)
			return []any{m, m, fmt.Sprintf("MLS-PKL-%03d", i%12), sevs[i], "Pickle imports a global", "model.pt", fmt.Sprintf("!archive/data.pkl@%d", i), detail, now}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`SELECT setval(pg_get_serial_sequence('models', 'id'), (SELECT MAX(id) FROM models))`,
		`SELECT setval(pg_get_serial_sequence('model_versions', 'id'), (SELECT MAX(id) FROM model_versions))`,
		`ANALYZE`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
