package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLoopbackLatency measures, in one run on loopback, the latency
// of the same OIP inference request sent (a) straight to the upstream,
// (b) through nginx as a plain reverse proxy (when nginx is installed),
// and (c) through the gateway with API-key authentication, limits and
// audit on. Requests are paced at -rate per second by a bounded number
// of workers for a fixed count; it reports p50/p99 per path and the
// added p50/p99 of the gateway and nginx over the direct path.
//
//	go test -run '^$' -bench BenchmarkLoopbackLatency -benchtime 1x ./internal/gateway
func BenchmarkLoopbackLatency(b *testing.B) {
	const (
		rate     = 5000 // requests per second
		requests = 20000
		workers  = 32
	)
	up := upstream(b)
	dir := b.TempDir()
	k := makeKeys(b, dir)
	cfg := baseConfig(up.URL, k, fmt.Sprintf(`
defaults:
  limits: {rate: 100000, burst: 100000, budget: 100000000, window: 1d, max_batch: 64}
audit: {file: %s}
`, filepath.Join(dir, "audit.jsonl")))
	c, err := ParseConfig([]byte(cfg))
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(context.Background(), c, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	gw := httptest.NewServer(g)
	defer gw.Close()
	body := mustJSON(inferBody(naturalRows(b, "logreg")[:1]))

	targets := []struct{ name, url, key string }{{"direct", up.URL, ""}}
	if ng := startNginx(b, up.URL); ng != "" {
		targets = append(targets, struct{ name, url, key string }{"nginx", ng, ""})
	} else {
		b.Log("nginx not installed: skipping the nginx comparison")
	}
	targets = append(targets, struct{ name, url, key string }{"gateway", gw.URL, k.full})

	for b.Loop() {
		p50 := map[string]float64{}
		p99 := map[string]float64{}
		for _, tg := range targets {
			lat, errs, achieved := load(b, tg.url+"/v2/models/logreg/infer", tg.key, body, rate, requests, workers)
			slices.Sort(lat)
			p50[tg.name] = ms(lat[len(lat)/2])
			p99[tg.name] = ms(lat[len(lat)*99/100])
			b.ReportMetric(p50[tg.name], tg.name+"-p50-ms")
			b.ReportMetric(p99[tg.name], tg.name+"-p99-ms")
			b.ReportMetric(float64(errs), tg.name+"-errors")
			b.Logf("%-8s p50 %.3f ms  p99 %.3f ms  errors %d  achieved %.0f req/s", tg.name, p50[tg.name], p99[tg.name], errs, achieved)
		}
		for _, n := range []string{"nginx", "gateway"} {
			if _, ok := p50[n]; ok {
				b.ReportMetric(p50[n]-p50["direct"], n+"-added-p50-ms")
				b.ReportMetric(p99[n]-p99["direct"], n+"-added-p99-ms")
				b.Logf("%-8s adds p50 %.3f ms  p99 %.3f ms over direct", n, p50[n]-p50["direct"], p99[n]-p99["direct"])
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// load sends n requests paced at rate per second from a fixed pool of
// workers and returns each request's latency, the error count (transport
// errors and non-200 answers) and the rate achieved.
func load(b *testing.B, url, key string, body []byte, rate, n, workers int) ([]time.Duration, int, float64) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true}}
	defer client.CloseIdleConnections()
	send := func() (time.Duration, bool) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return time.Since(t0), false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(t0), resp.StatusCode == 200
	}
	for range 2 * workers { // warm connections
		send()
	}
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	var next atomic.Int64
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				l, ok := send()
				lat[i] = l
				if !ok {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return lat, int(errs.Load()), float64(n) / time.Since(start).Seconds()
}

// startNginx runs nginx as a child with a temporary configuration that
// reverse-proxies a loopback port to upstream; "" when nginx is absent.
func startNginx(b *testing.B, upstreamURL string) string {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		return ""
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := b.TempDir()
	conf := fmt.Sprintf(`worker_processes 1;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream model { server %[2]s; keepalive 64; }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`, dir, upstreamURL[len("http://"):], port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Logf("nginx did not start: %v", err)
		return ""
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Log("nginx did not come up")
	return ""
}

// BenchmarkGatewayHandler measures the gateway's own work per request
// (authentication, limits, validation, hardening, audit) against an
// in-process upstream, without network pacing.
func BenchmarkGatewayHandler(b *testing.B) {
	up := upstream(b)
	k := makeKeys(b, b.TempDir())
	cfg := baseConfig(up.URL, k, `
defaults:
  limits: {rate: 1000000000, burst: 1000000000}
`)
	c, _ := ParseConfig([]byte(cfg))
	g, err := New(context.Background(), c, Options{AuditWriter: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	body := mustJSON(inferBody(naturalRows(b, "logreg")[:1]))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v2/models/logreg/infer", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+k.label)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
