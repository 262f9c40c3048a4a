package inference

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newTestServer(t testing.TB, names ...string) *httptest.Server {
	t.Helper()
	models := map[string]Model{}
	for _, n := range names {
		m, _ := loadFixture(t, n)
		models[n] = m
	}
	s, err := NewServer(context.Background(), models, ServerOptions{MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

// TestRoundTrip serves ONNX models and queries them through the OIP client:
// the answers must equal the local evaluator's.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	names := []string{"logreg", "mlp", "forest", "gboost", "gbregressor", "ridge"}
	ts := newTestServer(t, names...)
	ctx := context.Background()
	for _, name := range names {
		local, e := loadFixture(t, name)
		c, err := Dial(ts.URL+"/v2/models/"+name, WithBatchSize(7))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Ready(ctx); !ok || err != nil {
			t.Fatalf("%s: ready %v %v", name, ok, err)
		}
		md, err := c.Metadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lmd, _ := local.Metadata(ctx)
		if md.Name != name || len(md.Inputs) != len(lmd.Inputs) || md.Inputs[0].Datatype != lmd.Inputs[0].Datatype {
			t.Errorf("%s: remote metadata %+v, local %+v", name, md, lmd)
		}
		remote, err := PredictRows(ctx, c, e.Inputs)
		if err != nil {
			t.Fatalf("%s: remote: %v", name, err)
		}
		want, err := PredictRows(ctx, local, e.Inputs)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(remote.Labels, ",") != strings.Join(want.Labels, ",") {
			t.Errorf("%s: labels differ", name)
		}
		if strings.Join(remote.ScoreNames, ",") != strings.Join(want.ScoreNames, ",") {
			t.Errorf("%s: score names %v, local %v", name, remote.ScoreNames, want.ScoreNames)
		}
		for i := range want.Scores {
			for j := range want.Scores[i] {
				if math.Abs(remote.Scores[i][j]-want.Scores[i][j]) > 1e-7 {
					t.Fatalf("%s: row %d score %d: %v vs %v", name, i, j, remote.Scores[i][j], want.Scores[i][j])
				}
			}
		}
	}
	c, _ := NewClient(ts.URL, "logreg")
	if ok, err := c.ServerLive(ctx); !ok || err != nil {
		t.Errorf("live: %v %v", ok, err)
	}
	if ok, err := c.ServerReady(ctx); !ok || err != nil {
		t.Errorf("ready: %v %v", ok, err)
	}
}

type httpCase struct {
	name, method, path, body string
	header                   map[string]string
	status                   int
	check                    func(t *testing.T, body map[string]any)
}

// TestServerConformance checks request and response shapes against the OIP
// REST specification, including its error cases.
func TestServerConformance(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "mlp")
	row := `[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]`
	infer := func(inputs string) string { return `{"id":"r1","inputs":[` + inputs + `]}` }
	good := `{"name":"input","shape":[1,8],"datatype":"FP32","data":` + row + `}`
	errBody := func(t *testing.T, b map[string]any) {
		if s, ok := b["error"].(string); !ok || s == "" || len(b) != 1 {
			t.Errorf("error body %v, want {\"error\": string}", b)
		}
	}
	cases := []httpCase{
		{"live", "GET", "/v2/health/live", "", nil, 200, func(t *testing.T, b map[string]any) {
			if b["live"] != true {
				t.Errorf("%v", b)
			}
		}},
		{"ready", "GET", "/v2/health/ready", "", nil, 200, nil},
		{"server metadata", "GET", "/v2", "", nil, 200, func(t *testing.T, b map[string]any) {
			if b["name"] != "mlsec" || b["version"] == nil || b["extensions"] == nil {
				t.Errorf("%v", b)
			}
		}},
		{"model metadata", "GET", "/v2/models/mlp", "", nil, 200, func(t *testing.T, b map[string]any) {
			ins, _ := b["inputs"].([]any)
			outs, _ := b["outputs"].([]any)
			if b["name"] != "mlp" || b["platform"] != "onnx" || len(ins) != 1 || len(outs) != 2 {
				t.Fatalf("%v", b)
			}
			in := ins[0].(map[string]any)
			if in["name"] != "input" || in["datatype"] != "FP32" || len(in["shape"].([]any)) != 2 {
				t.Errorf("input %v", in)
			}
		}},
		{"versioned metadata", "GET", "/v2/models/mlp/versions/1", "", nil, 200, nil},
		{"model ready", "GET", "/v2/models/mlp/ready", "", nil, 200, func(t *testing.T, b map[string]any) {
			if b["ready"] != true || b["name"] != "mlp" {
				t.Errorf("%v", b)
			}
		}},
		{"infer", "POST", "/v2/models/mlp/infer", infer(good), nil, 200, func(t *testing.T, b map[string]any) {
			if b["model_name"] != "mlp" || b["id"] != "r1" || b["model_version"] != "1" {
				t.Errorf("%v", b)
			}
			outs := b["outputs"].([]any)
			if len(outs) != 2 {
				t.Fatalf("outputs %v", outs)
			}
			for _, o := range outs {
				o := o.(map[string]any)
				if o["name"] == nil || o["datatype"] == nil || o["shape"] == nil || o["data"] == nil {
					t.Errorf("output %v", o)
				}
			}
		}},
		{"infer nested data and one output", "POST", "/v2/models/mlp/versions/1/infer",
			`{"inputs":[{"name":"input","shape":[2,8],"datatype":"FP32","data":[` + row + `,` + row + `]}],"outputs":[{"name":"output_label"}]}`, nil, 200,
			func(t *testing.T, b map[string]any) {
				outs := b["outputs"].([]any)
				o := outs[0].(map[string]any)
				if len(outs) != 1 || o["name"] != "output_label" || o["datatype"] != "INT64" || len(o["data"].([]any)) != 2 {
					t.Errorf("%v", b)
				}
			}},
		{"unknown model", "GET", "/v2/models/nope", "", nil, 404, errBody},
		{"unknown version", "GET", "/v2/models/mlp/versions/9", "", nil, 404, errBody},
		{"unknown path", "GET", "/v2/models/mlp/stats", "", nil, 404, errBody},
		{"not v2", "GET", "/v1/models/mlp", "", nil, 404, errBody},
		{"GET infer", "GET", "/v2/models/mlp/infer", "", nil, 405, errBody},
		{"POST metadata", "POST", "/v2/models/mlp", "{}", nil, 405, errBody},
		{"bad JSON", "POST", "/v2/models/mlp/infer", `{"inputs":`, nil, 400, errBody},
		{"trailing JSON", "POST", "/v2/models/mlp/infer", infer(good) + `{}`, nil, 400, errBody},
		{"no inputs", "POST", "/v2/models/mlp/infer", `{"inputs":[]}`, nil, 400, errBody},
		{"unknown input", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, `"input"`, `"x"`, 1)), nil, 400, errBody},
		{"duplicate input", "POST", "/v2/models/mlp/infer", infer(good + "," + good), nil, 400, errBody},
		{"wrong datatype", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "FP32", "FP64", 1)), nil, 400, errBody},
		{"unknown datatype", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "FP32", "FLOAT", 1)), nil, 400, errBody},
		{"wrong width", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "[1,8]", "[2,4]", 1)), nil, 400, errBody},
		{"wrong rank", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "[1,8]", "[8]", 1)), nil, 400, errBody},
		{"negative dim", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "[1,8]", "[-1,8]", 1)), nil, 400, errBody},
		{"too few values", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, row, "[1,2]", 1)), nil, 400, errBody},
		{"too many values", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "[1,8]", "[1,8]", 1)[:len(good)-2] + `,9]}`), nil, 400, errBody},
		{"string value", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "0.1", `"a"`, 1)), nil, 400, errBody},
		{"object value", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "0.1", `{}`, 1)), nil, 400, errBody},
		{"huge shape", "POST", "/v2/models/mlp/infer", infer(strings.Replace(good, "[1,8]", "[99999999999,8]", 1)), nil, 400, errBody},
		{"unknown output", "POST", "/v2/models/mlp/infer", `{"inputs":[` + good + `],"outputs":[{"name":"nope"}]}`, nil, 400, errBody},
		{"binary extension", "POST", "/v2/models/mlp/infer", infer(good), map[string]string{"Inference-Header-Content-Length": "10"}, 400, errBody},
		{"form content type", "POST", "/v2/models/mlp/infer", infer(good), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 200, nil},
		{"body too large", "POST", "/v2/models/mlp/infer", `{"inputs":[` + strings.Repeat(" ", 2<<20) + `]}`, nil, 413, errBody},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader(c.body))
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			data, _ := io.ReadAll(res.Body)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, data)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			var b map[string]any
			if err := json.Unmarshal(data, &b); err != nil {
				t.Fatalf("body %q: %v", data, err)
			}
			if c.check != nil {
				c.check(t, b)
			}
		})
	}
}

func TestClientErrorsAndRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var auth atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/v2/models/flaky":
			if calls.Add(1) < 3 {
				w.Header().Set("Retry-After", "0")
				writeJSON(w, http.StatusServiceUnavailable, wireError{Error: "warming up"})
				return
			}
			writeJSON(w, 200, Metadata{Name: "flaky", Inputs: []TensorMeta{{Name: "x", Datatype: FP32, Shape: []int64{-1, 2}}}})
		case "/v2/models/down":
			writeJSON(w, http.StatusTooManyRequests, wireError{Error: "slow down"})
		default:
			writeJSON(w, http.StatusNotFound, wireError{Error: "unknown model"})
		}
	}))
	defer ts.Close()
	ctx := context.Background()
	c, _ := NewClient(ts.URL, "flaky", WithRetries(3, time.Millisecond), WithBearerToken("s3cret"))
	if _, err := c.Metadata(ctx); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if calls.Load() != 3 || auth.Load() != "Bearer s3cret" {
		t.Errorf("calls %d auth %v", calls.Load(), auth.Load())
	}
	c, _ = NewClient(ts.URL, "down", WithRetries(2, time.Millisecond))
	_, err := c.Metadata(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Status != 429 || e.Message != "slow down" {
		t.Errorf("429: %v", err)
	}
	c, _ = NewClient(ts.URL, "gone")
	_, err = c.Metadata(ctx)
	if !errors.As(err, &e) || e.Status != 404 || e.Message != "unknown model" {
		t.Errorf("404: %v", err)
	}
	if ok, err := c.Ready(ctx); ok || err != nil {
		t.Errorf("ready of unknown model: %v %v", ok, err)
	}
}

func TestParseModelURL(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, base, name, version string }{
		{"http://h:8080/v2/models/m", "http://h:8080", "m", ""},
		{"https://h/prefix/v2/models/m/versions/3/", "https://h/prefix", "m", "3"},
		{"http://h/v2/models/", "", "", ""},
		{"http://h/v2/models/a/b", "", "", ""},
		{"ftp://h/v2/models/m", "", "", ""},
		{"http://h/v2/models/..", "", "", ""},
	}
	for _, c := range cases {
		b, n, v, err := ParseModelURL(c.in)
		if c.name == "" {
			if err == nil {
				t.Errorf("%s: no error", c.in)
			}
			continue
		}
		if err != nil || b != c.base || n != c.name || v != c.version {
			t.Errorf("%s: %q %q %q %v", c.in, b, n, v, err)
		}
	}
}

// TestClientSurfacesServerErrors checks that a request the server rejects
// comes back as an *Error with the server's status and message.
func TestClientSurfacesServerErrors(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "ridge")
	c, err := NewClient(ts.URL, "ridge")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Predict(context.Background(), []Tensor{{Name: "input", Datatype: FP64, Shape: []int64{1, 4}, Float: []float64{1, 2, 3, 4}}})
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Message, "datatype") {
		t.Errorf("wrong datatype: %v", err)
	}
	_, err = c.Predict(context.Background(), []Tensor{{Name: "input", Datatype: FP32, Shape: []int64{1, 4}, Float: []float64{1, 2, 3}}})
	if !errors.Is(err, ErrBadInput) {
		t.Errorf("malformed tensor not caught before sending: %v", err)
	}
	out, err := c.Predict(context.Background(), []Tensor{{Name: "input", Datatype: FP32, Shape: []int64{1, 4}, Float: []float64{1, 2, 3, 4}}}, "variable")
	if err != nil || len(out) != 1 || out[0].Datatype != FP32 || len(out[0].Float) != 1 {
		t.Errorf("predict: %v %+v", err, out)
	}
}
