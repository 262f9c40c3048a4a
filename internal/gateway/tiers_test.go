package gateway

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestAuthenticationAndTiers(t *testing.T) {
	up := upstream(t)
	k := makeKeys(t, t.TempDir())
	g := startGateway(t, baseConfig(up.URL, k, ""), Options{})
	rows := naturalRows(t, "logreg")[:3]
	infer := g.srv.URL + "/v2/models/logreg/infer"
	meta := g.srv.URL + "/v2/models/logreg"

	for _, tc := range []struct {
		name   string
		method string
		url    string
		key    string
		body   any
		status int
	}{
		{"no credentials", "POST", infer, "", inferBody(rows), 401},
		{"unknown key", "POST", infer, "mlsk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", inferBody(rows), 401},
		{"tampered secret", "POST", infer, k.label[:len(k.label)-1] + "x", inferBody(rows), 401},
		{"malformed key", "POST", infer, "mlsk_nonsense", inferBody(rows), 401},
		{"jwt without jwks", "POST", infer, "eyJhbGciOiJub25lIn0.e30.", inferBody(rows), 401},
		{"revoked key", "POST", infer, k.revoked, inferBody(rows), 401},
		{"expired key", "POST", infer, k.expired, inferBody(rows), 401},
		{"no grant", "POST", infer, k.none, inferBody(rows), 403},
		{"label on metadata", "GET", meta, k.label, nil, 403},
		{"full on metadata", "GET", meta, k.full, nil, 403},
		{"metadata on metadata", "GET", meta, k.meta, nil, 200},
		{"label on admin path", "POST", g.srv.URL + "/v2/repository/models/logreg/unload", k.label, "{}", 403},
		{"metadata on admin path", "GET", meta + "/config", k.meta, nil, 403},
		{"admin on admin path", "GET", meta + "/config", k.adm, nil, 404}, // passed upstream, which has no such route
		{"label on ready", "GET", meta + "/ready", k.label, nil, 200},
		{"unknown model", "POST", g.srv.URL + "/v2/models/nope/infer", k.label, inferBody(rows), 404},
		{"unknown path", "GET", g.srv.URL + "/v1/models", k.label, nil, 404},
		{"label infer", "POST", infer, k.label, inferBody(rows), 200},
		{"scores infer", "POST", infer, k.scores, inferBody(rows), 200},
		{"full infer", "POST", infer, k.full, inferBody(rows), 200},
		{"server metadata", "GET", g.srv.URL + "/v2", k.label, nil, 200},
		{"server metadata without grant", "GET", g.srv.URL + "/v2", k.none, nil, 403},
		{"health unauthenticated", "GET", g.srv.URL + "/healthz", "", nil, 200},
		{"ready unauthenticated", "GET", g.srv.URL + "/v2/health/ready", "", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, tc.url, tc.key, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if r.status >= 400 {
				if _, ok := r.json(t)["error"].(string); !ok {
					t.Fatalf("error body without \"error\": %s", r.body)
				}
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	// X-API-Key works like a bearer key.
	req, _ := http.NewRequest("GET", meta+"/ready", nil)
	req.Header.Set("X-API-Key", k.label)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("X-API-Key: %v %v", resp.Status, err)
	}
	resp.Body.Close()
}

func TestLabelKeyNeverSeesScores(t *testing.T) {
	up := upstream(t)
	k := makeKeys(t, t.TempDir())
	g := startGateway(t, baseConfig(up.URL, k, ""), Options{})
	for _, model := range []string{"logreg", "mlp"} {
		rows := naturalRows(t, model)[:5]
		for _, outputs := range [][]string{nil, {"output_probability"}, {"output_label"}, {"output_probability", "output_label"}} {
			r := do(t, "POST", g.srv.URL+"/v2/models/"+model+"/infer", k.label, inferBody(rows, outputs...))
			if r.status != 200 {
				t.Fatalf("%s %v: %d %s", model, outputs, r.status, r.body)
			}
			outs := outputsOf(t, r)
			if len(outs) != 1 || outs["output_label"] == nil {
				t.Fatalf("%s %v: label key got outputs %v: %s", model, outputs, keysOf(outs), r.body)
			}
			if o := outs["output_label"]; o["datatype"] != "INT64" {
				t.Fatalf("label datatype %v", o["datatype"])
			}
			for _, v := range outs["output_label"]["data"].([]any) {
				if f := v.(float64); f != float64(int(f)) {
					t.Fatalf("non-integer label %v", v)
				}
			}
			if strings.Contains(string(r.body), "probab") || strings.Contains(string(r.body), "parameters") {
				t.Fatalf("label reply mentions scores: %s", r.body)
			}
		}
		// Scores tier: label plus rounded top-1 scores; full: raw.
		rows = naturalRows(t, model)[:4]
		full := outputsOf(t, do(t, "POST", g.srv.URL+"/v2/models/"+model+"/infer", k.full, inferBody(rows)))
		sc := outputsOf(t, do(t, "POST", g.srv.URL+"/v2/models/"+model+"/infer", k.scores, inferBody(rows)))
		if full["output_probability"] == nil || sc["output_probability"] == nil || sc["output_label"] == nil {
			t.Fatalf("%s: full %v scores %v", model, keysOf(full), keysOf(sc))
		}
		raw := full["output_probability"]["data"].([]any)
		hard := sc["output_probability"]["data"].([]any)
		if model == "logreg" {
			// round: 2, top_k: 1
			per := 2
			for r := 0; r < len(hard); r += per {
				nonzero := 0
				for c := range per {
					v := hard[r+c].(float64)
					if v != 0 {
						nonzero++
					}
					if v*100 != float64(int(v*100+0.5*sign(v))) {
						t.Fatalf("score %v not rounded to 2 decimals", v)
					}
				}
				if nonzero > 1 {
					t.Fatalf("top-1 kept %d scores in row %v", nonzero, hard[r:r+per])
				}
			}
		} else {
			// defaults: 3 decimals, all classes
			for i := range hard {
				if d := hard[i].(float64) - raw[i].(float64); d > 0.0005+1e-9 || d < -0.0005-1e-9 {
					t.Fatalf("rounded %v from %v", hard[i], raw[i])
				}
			}
		}
	}
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

func keysOf[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func TestValidation(t *testing.T) {
	up := upstream(t)
	k := makeKeys(t, t.TempDir())
	g := startGateway(t, baseConfig(up.URL, k, "")+`
defaults:
  limits: {max_batch: 4, max_body: 2KiB}
`, Options{})
	infer := g.srv.URL + "/v2/models/logreg/infer"
	row := naturalRows(t, "logreg")[0]
	for _, tc := range []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"not json", `{"inputs": [`, 400, "invalid request JSON"},
		{"trailing", `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,6],"data":[1,2,3,4,5,6]}]} {}`, 400, "trailing"},
		{"no inputs", `{"inputs":[]}`, 400, "no inputs"},
		{"wrong name", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,6],"data":[1,2,3,4,5,6]}]}`, 400, `unknown input "x"`},
		{"wrong type", `{"inputs":[{"name":"input","datatype":"INT64","shape":[1,6],"data":[1,2,3,4,5,6]}]}`, 400, "datatype INT64"},
		{"bad type", `{"inputs":[{"name":"input","datatype":"FLOAT","shape":[1,6],"data":[1,2,3,4,5,6]}]}`, 400, "unknown datatype"},
		{"wrong shape", `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,5],"data":[1,2,3,4,5]}]}`, 400, "shape [1 5]"},
		{"count mismatch", `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,6],"data":[1,2,3]}]}`, 400, "holds 3 values"},
		{"negative dim", `{"inputs":[{"name":"input","datatype":"FP32","shape":[-1,6],"data":[]}]}`, 400, "invalid shape"},
		{"strings as numbers", `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,6],"data":["a",2,3,4,5,6]}]}`, 400, "not a number"},
		{"unknown output", `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,6],"data":[1,2,3,4,5,6]}],"outputs":[{"name":"secret"}]}`, 400, `unknown output "secret"`},
		{"batch too large", string(mustJSON(inferBody([][]float64{row, row, row, row, row}))), 400, "batch of 5 rows"},
		{"nested data ok", `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,6],"data":[[1,2,3,4,5,6]]}]}`, 200, ""},
		{"body too large", `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,6],"data":[1,2,3,4,5,6]}],"id":"` + strings.Repeat("x", 3000) + `"}`, 413, "over 2048 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", infer, k.full, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.msg != "" && !strings.Contains(r.json(t)["error"].(string), tc.msg) {
				t.Fatalf("error %s, want it to mention %q", r.body, tc.msg)
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
