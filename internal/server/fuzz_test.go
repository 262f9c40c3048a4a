package server

import (
	"encoding/json"
	"testing"
)

// FuzzEvidence feeds arbitrary uploads to the evidence parsers: they must
// never panic, whatever the document.
func FuzzEvidence(f *testing.F) {
	f.Add(sampleReport("m.pt"))
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x"}],"vulnerabilities":[{}]}`))
	f.Add([]byte(`{"allow":false,"deny":[{"rule":"r","msg":"m"}],"warn":null}`))
	f.Add([]byte(`{"views":[{"name":"a","disparities":[{"name":"d","value":"NaN","threshold":0.1,"breach":true}]}],"overall":{}}`))
	f.Add([]byte(`{"verified":true}`))
	f.Add([]byte(`{"findings":[{"severity":"critical"}],"x":1.5,"y":"s","z":[1]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseReport(data)
		var doc map[string]json.RawMessage
		if json.Unmarshal(data, &doc) != nil {
			return
		}
		_ = detectKind(doc)
		_ = bomSummary(doc)
		_ = fairnessSummary(doc)
		if s := genericSummary(doc); len(s) > maxSummaryEntries+2 {
			t.Fatalf("summary has %d entries", len(s))
		}
		var d policyDecision
		_ = json.Unmarshal(data, &d)
	})
}
