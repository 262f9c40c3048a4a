package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mlsec/mlsec/internal/gateway/limit"
	"github.com/mlsec/mlsec/internal/inference"
)

const fixtures = "../inference/testdata/"

// upstream serves the logreg (6 features, 2 classes) and mlp (8
// features, 3 classes) fixtures with mlsec's own OIP server.
func upstream(t testing.TB) *httptest.Server {
	t.Helper()
	models := map[string]inference.Model{}
	for _, name := range []string{"logreg", "mlp"} {
		m, err := inference.LoadONNX(fixtures+name+".onnx", inference.ONNXOptions{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		models[name] = m
	}
	srv, err := inference.NewServer(context.Background(), models, inference.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// naturalRows returns the fixture's reference rows.
func naturalRows(t testing.TB, name string) [][]float64 {
	t.Helper()
	rows, _ := naturalData(t, name)
	return rows
}

// naturalData returns the fixture's reference rows and predicted labels.
func naturalData(t testing.TB, name string) ([][]float64, []int) {
	t.Helper()
	data, err := os.ReadFile(fixtures + name + ".expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Inputs [][]float64 `json:"inputs"`
		Labels []int       `json:"labels"`
	}
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatal(err)
	}
	return exp.Inputs, exp.Labels
}

// sampler draws i.i.d. rows from per-class Gaussians (diagonal
// covariance) fitted to the fixture's reference rows and labels: a
// stand-in for fresh natural data from the same distribution.
type sampler struct {
	mean, sd [][]float64 // per class
	weight   []float64
	r        *rand.Rand
}

func newSampler(t testing.TB, name string, seed uint64) *sampler {
	t.Helper()
	rows, labels := naturalData(t, name)
	nc := 0
	for _, l := range labels {
		nc = max(nc, l+1)
	}
	d := len(rows[0])
	s := &sampler{r: rand.New(rand.NewPCG(seed, 99)), weight: make([]float64, nc)}
	for c := range nc {
		mean, sd := make([]float64, d), make([]float64, d)
		n := 0.0
		for i, r := range rows {
			if labels[i] == c {
				n++
				for j, v := range r {
					mean[j] += v
				}
			}
		}
		for j := range mean {
			mean[j] /= n
		}
		for i, r := range rows {
			if labels[i] == c {
				for j, v := range r {
					sd[j] += (v - mean[j]) * (v - mean[j]) / n
				}
			}
		}
		for j := range sd {
			sd[j] = math.Sqrt(sd[j])
		}
		s.mean, s.sd = append(s.mean, mean), append(s.sd, sd)
		s.weight[c] = n / float64(len(rows))
	}
	return s
}

func (s *sampler) next() []float64 {
	u, c := s.r.Float64(), 0
	for c < len(s.weight)-1 && u > s.weight[c] {
		u -= s.weight[c]
		c++
	}
	x := make([]float64, len(s.mean[c]))
	for j := range x {
		x[j] = float32r(s.mean[c][j] + s.sd[c][j]*s.r.NormFloat64())
	}
	return x
}

func float32r(v float64) float64 { return float64(float32(v)) }

type keys struct {
	file                           string
	label, scores, full, meta, adm string
	none, revoked, expired         string
	ids                            map[string]string
}

func makeKeys(t testing.TB, dir string) *keys {
	t.Helper()
	k := &keys{file: filepath.Join(dir, "keys.json"), ids: map[string]string{}}
	kf := &KeyFile{Version: 1}
	mk := func(owner string, groups []string, expires time.Time) string {
		rec, secret, err := kf.NewKey(NewKeyOptions{Owner: owner, Groups: groups, Expires: expires})
		if err != nil {
			t.Fatal(err)
		}
		k.ids[owner] = rec.ID
		return secret
	}
	k.label = mk("label-user", nil, time.Time{})
	k.scores = mk("scores-user", []string{"analysts"}, time.Time{})
	k.full = mk("full-user", nil, time.Time{})
	k.meta = mk("meta-user", nil, time.Time{})
	k.adm = mk("admin-user", []string{"ml-admins"}, time.Time{})
	k.none = mk("nobody", nil, time.Time{})
	k.revoked = mk("revoked-user", nil, time.Time{})
	k.expired = mk("expired-user", nil, time.Now().Add(-time.Hour))
	if err := kf.Revoke(k.ids["revoked-user"], time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := kf.Write(k.file); err != nil {
		t.Fatal(err)
	}
	return k
}

// baseConfig grants tiers on both models by key id, group and subject.
func baseConfig(upstreamURL string, k *keys, extra string) string {
	return fmt.Sprintf(`
upstream: %s
keys: %s
models:
  - name: logreg
    grants:
      - {key: %s, tier: label}
      - {group: analysts, tier: scores}
      - {subject: full-user, tier: full}
      - {key: %s, tier: metadata}
      - {group: ml-admins, tier: admin}
      - {key: %s, tier: label}
      - {key: %s, tier: label}
    output: {round: 2, top_k: 1}
  - name: mlp
    grants:
      - {key: %s, tier: label}
      - {group: analysts, tier: scores}
      - {subject: full-user, tier: full}
%s`, upstreamURL, k.file, k.ids["label-user"], k.ids["meta-user"], k.ids["revoked-user"], k.ids["expired-user"],
		k.ids["label-user"], extra)
}

type testGW struct {
	*Gateway
	srv    *httptest.Server
	audit  *syncBuffer
	mu     sync.Mutex
	alerts []Alert
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startGateway(t testing.TB, yamlText string, opts Options) *testGW {
	t.Helper()
	cfg, err := ParseConfig([]byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGW{audit: &syncBuffer{}}
	opts.AuditWriter = tg.audit
	opts.OnAlert = func(a Alert) { tg.mu.Lock(); tg.alerts = append(tg.alerts, a); tg.mu.Unlock() }
	g, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	tg.Gateway = g
	tg.srv = httptest.NewServer(g)
	t.Cleanup(func() { tg.srv.Close(); g.Close() })
	return tg
}

func (tg *testGW) alertsFor(detector, identity string) []Alert {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	var out []Alert
	for _, a := range tg.alerts {
		if a.Detector == detector && (identity == "" || a.Identity == identity) {
			out = append(out, a)
		}
	}
	return out
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("reply %d is not JSON: %s", r.status, r.body)
	}
	return m
}

func do(t testing.TB, method, url, key string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		case []byte:
			rd = bytes.NewReader(b)
		default:
			data, _ := json.Marshal(body)
			rd = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, data}
}

func inferBody(rows [][]float64, outputs ...string) map[string]any {
	flat := []float64{}
	for _, r := range rows {
		flat = append(flat, r...)
	}
	b := map[string]any{"inputs": []any{map[string]any{
		"name": "input", "datatype": "FP32", "shape": []int{len(rows), len(rows[0])}, "data": flat,
	}}}
	if len(outputs) > 0 {
		var outs []any
		for _, o := range outputs {
			outs = append(outs, map[string]string{"name": o})
		}
		b["outputs"] = outs
	}
	return b
}

func outputsOf(t testing.TB, r reply) map[string]map[string]any {
	t.Helper()
	m := r.json(t)
	outs, _ := m["outputs"].([]any)
	res := map[string]map[string]any{}
	for _, o := range outs {
		om := o.(map[string]any)
		res[om["name"].(string)] = om
	}
	return res
}

// redisPrefix returns a Redis client and a key prefix unique to the test,
// deleting the test's keys afterwards.
func redisPrefix(t testing.TB) (*redis.Client, string) {
	t.Helper()
	addr := "127.0.0.1:6379"
	if a := os.Getenv("MLSEC_TEST_REDIS"); a != "" {
		addr = a
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Skipf("redis not reachable at %s: %v", addr, err)
	}
	prefix := fmt.Sprintf("mlsec-test:gateway:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c, prefix
}

var _ = limit.ReasonRate

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
