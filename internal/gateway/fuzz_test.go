package gateway

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("upstream: http://127.0.0.1:8080\nkeys: keys.json\nmodels:\n  - name: m\n    grants: [{group: g, tier: scores}]\n    limits: {rate: 5, budget: 100, window: 1d, max_body: 1MiB}\n    detectors:\n      prada: {threshold: 0.9, action: block, for: 15m}\n"))
	f.Add([]byte("models: [{name: j, protocol: json, upstream: 'http://h', json: {input: x}}]\njwt: {issuer: i, audience: a, jwks_url: 'https://i/jwks'}\n"))
	f.Add([]byte("models: [{name: a}]\ndefaults: {output: {round: 2, top_k: 1, noise: 0.01}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if len(c.Models) == 0 || c.Listen == "" {
			t.Fatal("accepted config without models or listen address")
		}
		for _, m := range c.Models {
			for _, g := range m.Grants {
				if g.Tier <= TierNone || g.Tier > TierAdmin {
					t.Fatalf("grant with tier %v", g.Tier)
				}
			}
		}
	})
}

func FuzzParseInferRequest(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[2,3],"data":[1,2,3,4,5,6]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"a","datatype":"BOOL","shape":[2],"data":[true,false]},{"name":"b","datatype":"BYTES","shape":[2],"data":["x","y"]}],"outputs":[{"name":"o"}]}`))
	f.Add([]byte(`{"inputs":[{"name":"n","datatype":"INT64","shape":[1,2,2],"data":[[[1,2],[3,4]]]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseInferRequest(data)
		if err != nil {
			return
		}
		rows := p.rows(nil)
		for _, r := range rows {
			if len(r) != len(rows[0]) {
				t.Fatal("ragged rows")
			}
		}
	})
}

func FuzzHardenOIP(f *testing.F) {
	f.Add([]byte(`{"model_name":"m","outputs":[{"name":"output_label","datatype":"INT64","shape":[2],"data":[0,1]},{"name":"output_probability","datatype":"FP32","shape":[2,2],"data":[0.2,0.8,0.6,0.4]}]}`), uint8(1), 2)
	f.Add([]byte(`{"model_name":"m","outputs":[{"name":"p","datatype":"FP64","shape":[1,3],"data":[[0.1,0.2,0.7]]}]}`), uint8(2), 1)
	f.Fuzz(func(t *testing.T, data []byte, tier uint8, batch int) {
		var resp oipResponse
		if json.Unmarshal(data, &resp) != nil {
			return
		}
		tr := Tier(tier%3) + TierLabel
		round := 2
		if err := hardenOIP(&resp, tr, &Output{Round: &round, TopK: 1, Noise: 0.01}, batch%64, rand.New(rand.NewPCG(1, 2))); err != nil {
			return
		}
		if tr == TierLabel {
			for _, o := range resp.Outputs {
				if strings.HasPrefix(o.Datatype, "FP") {
					t.Fatalf("label tier kept a float output %q", o.Name)
				}
			}
		}
		predictedClasses(resp.Outputs, nil, batch%64)
	})
}

func FuzzParseKeyFile(f *testing.F) {
	kf := &KeyFile{Version: 1}
	kf.NewKey(NewKeyOptions{Owner: "a", Groups: []string{"g"}})
	data, _ := json.Marshal(kf)
	f.Add(data)
	f.Add([]byte(`{"version":1,"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseKeyFile(data)
		if err != nil {
			return
		}
		ix := newKeyIndex(kf)
		for _, k := range kf.Keys {
			if _, ok := ix.verify(keyPrefix+k.ID+"_not-the-secret", time.Now()); ok {
				t.Fatal("wrong secret accepted")
			}
		}
	})
}
