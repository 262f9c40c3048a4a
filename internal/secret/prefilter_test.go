package secret

import "testing"

// TestRulesArePrefiltered pins what keeps secret scanning cheap on large
// outputs: gitleaks runs a rule's regexp only when one of its keywords
// occurs in the text (one Aho-Corasick pass finds them all), and decodes
// nothing. A rule with a regexp and no keywords would run on every string.
func TestRulesArePrefiltered(t *testing.T) {
	t.Parallel()
	d, err := load()
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range d.Config.Rules {
		if r.Regex != nil && len(r.Keywords) == 0 {
			t.Errorf("rule %s has a regexp but no keywords: it runs on every text", id)
		}
	}
	if d.MaxDecodeDepth != 0 {
		t.Errorf("MaxDecodeDepth = %d: every text would be scanned again per decoding pass", d.MaxDecodeDepth)
	}
}

func BenchmarkFindNumericOutput(b *testing.B) {
	var text []byte
	for j := 0; len(text) < 1<<20; j++ {
		text = append(text, "  12345  0.142857  166.333333  row-7  ok\n"...)
	}
	s := string(text)
	if _, err := Rules(); err != nil { // load the rules outside the timing
		b.Fatal(err)
	}
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Find(b.Context(), s); err != nil {
			b.Fatal(err)
		}
	}
}
