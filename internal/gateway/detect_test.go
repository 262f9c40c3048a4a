package gateway

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/gateway/detect"
)

// TestLimitsAcrossReplicas runs two gateways on one Redis: the budget and
// the rate hold across both, with 429 and Retry-After.
func TestLimitsAcrossReplicas(t *testing.T) {
	_, prefix := redisPrefix(t)
	up := upstream(t)
	k := makeKeys(t, t.TempDir())
	cfg := baseConfig(up.URL, k, fmt.Sprintf(`
  - name: ratelimited
    upstream_name: logreg
    grants: [{subject: full-user, tier: full}]
    limits: {rate: 0.2, burst: 2}
redis: redis://127.0.0.1:6379/0
redis_prefix: %q
defaults:
  limits: {budget: 6, window: 1h}
`, prefix))
	a := startGateway(t, cfg, Options{})
	b := startGateway(t, cfg, Options{})
	rows := naturalRows(t, "logreg")
	// Budget of 6 rows per hour: 2 rows via A, 2 via B, 2 via A, then any
	// further row is refused by both.
	for i, gw := range []*testGW{a, b, a} {
		r := do(t, "POST", gw.srv.URL+"/v2/models/logreg/infer", k.full, inferBody(rows[2*i:2*i+2]))
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	for _, gw := range []*testGW{b, a} {
		r := do(t, "POST", gw.srv.URL+"/v2/models/logreg/infer", k.full, inferBody(rows[:1]))
		if r.status != 429 {
			t.Fatalf("over budget: %d %s", r.status, r.body)
		}
		if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
		if !strings.Contains(r.json(t)["error"].(string), "budget") {
			t.Fatalf("error %s", r.body)
		}
	}
	// Another identity has its own budget.
	if r := do(t, "POST", a.srv.URL+"/v2/models/logreg/infer", k.label, inferBody(rows[:1])); r.status != 200 {
		t.Fatalf("other identity: %d %s", r.status, r.body)
	}
	// Rate: burst 2 shared by both replicas, refill every 5s.
	var codes []int
	for _, gw := range []*testGW{a, b, a, b} {
		r := do(t, "POST", gw.srv.URL+"/v2/models/ratelimited/infer", k.full, inferBody(rows[:1]))
		codes = append(codes, r.status)
		if r.status == 429 && r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if fmt.Sprint(codes) != "[200 200 429 429]" {
		t.Fatalf("rate limit across replicas: %v", codes)
	}
}

// jacobianAttack runs Papernot-style Jacobian-based dataset augmentation
// through the gateway: start from a few natural seeds; for every point,
// estimate the gradient of the predicted class's score by finite
// differences (d extra queries) and add x + λ·sign(∇). Every query is a
// real request.
func jacobianAttack(t *testing.T, url, key string, seeds [][]float64, rounds int, lambda float64, budget int) int {
	t.Helper()
	queries := 0
	query := func(x []float64) []float64 {
		queries++
		r := do(t, "POST", url, key, inferBody([][]float64{x}))
		if r.status != 200 {
			return nil
		}
		o := outputsOf(t, r)["output_probability"]
		if o == nil {
			return nil
		}
		var p []float64
		for _, v := range o["data"].([]any) {
			p = append(p, v.(float64))
		}
		return p
	}
	set := append([][]float64(nil), seeds...)
	for range rounds {
		n := len(set)
		for i := range n {
			if queries >= budget {
				return queries
			}
			x := set[i]
			p := query(x)
			if p == nil {
				return queries
			}
			c := 0
			for j := range p {
				if p[j] > p[c] {
					c = j
				}
			}
			next := make([]float64, len(x))
			for j := range x {
				h := 1e-2
				xh := append([]float64(nil), x...)
				xh[j] = float32r(xh[j] + h)
				ph := query(xh)
				if ph == nil {
					return queries
				}
				grad := (ph[c] - p[c]) / h
				s := 1.0
				if grad < 0 {
					s = -1
				}
				next[j] = float32r(x[j] + lambda*s)
			}
			set = append(set, next)
		}
	}
	return queries
}

func TestPRADADetectsExtraction(t *testing.T) {
	up := upstream(t)
	k := makeKeys(t, t.TempDir())
	cfg := baseConfig(up.URL, k, `
defaults:
  output: {round: -1}
  detectors:
    prada: {threshold: 0.9, min_queries: 100, action: alert}
`)
	g := startGateway(t, cfg, Options{})
	url := g.srv.URL + "/v2/models/mlp/infer"
	nat := naturalRows(t, "mlp")

	// A benign client sends 400 fresh natural queries, in small batches.
	s := newSampler(t, "mlp", 1)
	for i := 0; i < 400; i += 4 {
		batch := [][]float64{s.next(), s.next(), s.next(), s.next()}
		if r := do(t, "POST", url, k.scores, inferBody(batch)); r.status != 200 {
			t.Fatalf("benign: %d %s", r.status, r.body)
		}
	}
	// The attacker (the full-tier key) runs a Jacobian-style extraction.
	q := jacobianAttack(t, url, k.full, nat[:5], 4, 0.3, 600)
	deadline := time.Now().Add(5 * time.Second)
	for len(g.alertsFor(detect.NamePRADA, "key:"+k.ids["full-user"])) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	thief := g.alertsFor(detect.NamePRADA, "key:"+k.ids["full-user"])
	if len(thief) == 0 {
		t.Fatalf("no PRADA alert after %d extraction queries", q)
	}
	t.Logf("extraction (%d queries sent): %s", q, thief[0].Message)
	benignW := g.detectors["mlp"].prada.Last("key:" + k.ids["scores-user"])
	t.Logf("benign stream: W = %.4f over %d minimum distances", benignW.Score, benignW.Queries)
	if benign := g.alertsFor(detect.NamePRADA, "key:"+k.ids["scores-user"]); len(benign) > 0 {
		t.Fatalf("benign stream raised PRADA: %+v", benign[0])
	}
	// A random-query extraction (uniform in a box) is also caught.
	r := rand.New(rand.NewPCG(3, 3))
	for range 300 {
		x := make([]float64, 8)
		for j := range x {
			x[j] = float32r(-10 + 20*r.Float64())
		}
		do(t, "POST", url, k.adm, inferBody([][]float64{x}))
	}
	// (admin has no grant on mlp: its queries are refused and never
	// reach the detector.)
	if len(g.alertsFor(detect.NamePRADA, "key:"+k.ids["admin-user"])) > 0 {
		t.Fatal("refused queries reached the detector")
	}
	if !strings.Contains(g.audit.String(), `"alerts":["prada"]`) {
		t.Fatal("audit lines do not record the PRADA alert")
	}
}

// TestSimilarityBlocksNearDuplicates calibrates the similarity threshold
// on natural data (through a profile), then a boundary-attack-like walk of
// near-duplicate queries is blocked while a natural stream is not.
func TestSimilarityBlocksNearDuplicates(t *testing.T) {
	up := upstream(t)
	dir := t.TempDir()
	k := makeKeys(t, dir)
	nat := naturalRows(t, "logreg")
	s := newSampler(t, "logreg", 7)
	ref := make([][]float64, 400)
	for i := range ref {
		ref[i] = s.next()
	}
	prof, err := detect.BuildProfile(ref, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	prof.SimilarityK = 10
	prof.SimilarityThreshold = detect.CalibrateSimilarity(ref, 10, 0.001, prof.Scale())
	writeJSONFile(t, filepath.Join(dir, "logreg.profile.json"), prof)
	cfg := strings.Replace(baseConfig(up.URL, k, ""), "    output: {round: 2, top_k: 1}\n",
		"    output: {round: 2, top_k: 1}\n    profile: "+filepath.Join(dir, "logreg.profile.json")+"\n    range_tolerance: 1\n    detectors:\n      similarity: {action: block, for: 1m}\n", 1)
	g := startGateway(t, cfg, Options{})
	url := g.srv.URL + "/v2/models/logreg/infer"

	for i := range 150 {
		if r := do(t, "POST", url, k.scores, inferBody([][]float64{s.next()})); r.status != 200 {
			t.Fatalf("benign query %d: %d %s", i, r.status, r.body)
		}
	}
	x := nat[0]
	blockedAt := -1
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 60 {
		y := make([]float64, len(x))
		for j := range y {
			y[j] = float32r(x[j] + 0.01*prof.Features[j].Std*rng.NormFloat64())
		}
		r := do(t, "POST", url, k.label, inferBody([][]float64{y}))
		if r.status == 403 {
			blockedAt = i
			break
		}
		if r.status != 200 {
			t.Fatalf("attack query %d: %d %s", i, r.status, r.body)
		}
		x = y
	}
	if blockedAt < 0 {
		t.Fatal("near-duplicate stream not blocked")
	}
	t.Logf("near-duplicate stream blocked at query %d (threshold %.4g)", blockedAt, prof.SimilarityThreshold)
	// The block holds for later requests, even natural ones.
	r := do(t, "POST", url, k.label, inferBody([][]float64{s.next()}))
	if r.status != 403 || r.header.Get("Retry-After") == "" {
		t.Fatalf("after block: %d %s", r.status, r.body)
	}
	if len(g.alertsFor(detect.NameSimilarity, "key:"+k.ids["scores-user"])) > 0 {
		t.Fatal("natural stream tripped the similarity detector")
	}
	waitAlerts(t, g, detect.NameSimilarity, "key:"+k.ids["label-user"])
	// Values far outside the profile are refused as invalid.
	far := append([]float64(nil), nat[1]...)
	far[2] = 1e6
	if r := do(t, "POST", url, k.scores, inferBody([][]float64{far})); r.status != 400 || !strings.Contains(string(r.body), "outside the reference range") {
		t.Fatalf("out of range: %d %s", r.status, r.body)
	}
}

func TestDriftAlert(t *testing.T) {
	up := upstream(t)
	dir := t.TempDir()
	k := makeKeys(t, dir)
	s := newSampler(t, "logreg", 11)
	ref := make([][]float64, 1000)
	for i := range ref {
		ref[i] = s.next()
	}
	prof, _ := detect.BuildProfile(ref, []string{"a", "b", "c", "d", "e", "f"}, 10)
	writeJSONFile(t, filepath.Join(dir, "p.json"), prof)
	cfg := strings.Replace(baseConfig(up.URL, k, ""), "    output: {round: 2, top_k: 1}\n",
		"    profile: "+filepath.Join(dir, "p.json")+"\n    range_tolerance: -1\n    detectors:\n      drift: {window: 200, threshold: 0.25}\n", 1)
	g := startGateway(t, cfg, Options{})
	url := g.srv.URL + "/v2/models/logreg/infer"
	for range 50 {
		var batch [][]float64
		for range 4 {
			batch = append(batch, s.next())
		}
		if r := do(t, "POST", url, k.full, inferBody(batch)); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if a := g.alertsFor(detect.NameDrift, ""); len(a) > 0 {
		t.Fatalf("drift alert on the reference distribution: %+v", a[0])
	}
	for range 50 {
		var batch [][]float64
		for range 4 {
			x := s.next()
			x[3] += 3 * prof.Features[3].Std
			batch = append(batch, x)
		}
		do(t, "POST", url, k.full, inferBody(batch))
	}
	waitAlerts(t, g, detect.NameDrift, "")
	if a := g.alertsFor(detect.NameDrift, ""); a[0].Feature != "d" || a[0].Identity != "" || a[0].Score <= 0.25 {
		t.Fatalf("drift alert %+v", a[0])
	}
}

func writeJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	if err := os.WriteFile(path, mustJSON(v), 0o600); err != nil {
		t.Fatal(err)
	}
}

func waitAlerts(t *testing.T, g *testGW, detector, identity string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(g.alertsFor(detector, identity)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no %s alert for %s", detector, identity)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
