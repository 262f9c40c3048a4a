package pii

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// findWhole is Find without the run windows: every regexp over the whole
// text, as before the pre-filter existed. Find must agree with it exactly.
func findWhole(text string) []Match {
	var out []Match
	taken := func(s, e int) bool {
		for _, m := range out {
			if s < m.End && m.Start < e {
				return true
			}
		}
		return false
	}
	for _, d := range detectors {
		if !d.need(text) {
			continue
		}
		for _, loc := range d.re.FindAllStringIndex(text, -1) {
			s, e := loc[0], loc[1]
			e, ok := d.check(text, s, e)
			if !ok || taken(s, e) {
				continue
			}
			out = append(out, Match{Kind: d.kind, Start: s, End: e})
		}
	}
	slices.SortStableFunc(out, func(a, b Match) int { return a.Start - b.Start })
	return out
}

// windowSamples mixes personal data with the numeric and prose noise around
// it, including values glued to neighbours and split by separators.
var windowSamples = []string{
	"jane.doe@example.org", "ops+ml@data-team.example.co.uk", "logo@2x.png", "git@github.com", "a@b.cd", "x@@y.zz",
	"4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "378282246310005", "3782 822463 10005",
	"4111111111111112", "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR14 2004 1010 0505 0001 3M02 606",
	"NO9386011117947", "536-90-4399", "078-05-1120", "AB 12 34 56 C", "AB123456C", "4991 1866 5246", "12345678Z",
	"X1234567L", "Y1234567X", "+44 20 7946 0958", "+1 (415) 555-2671", "(212) 736-5000", "+1 212-736-5000",
	"212.736.5000", "2023-01-15", "12:30:45", "81.2.69.160", "8.8.8.8", "10.0.0.1", "1.2.3.4",
	"2a00:1450:4009:81f::200e", "2001:db8::1", "fd00::1:2:3", "3.14159", "123456789", "0.142857", "166.333333",
	"2345.454545", "row-12", "ok", "  ", " ", "\n", "\t", ",", ";", "-", ".", "+", ":", "(", ")", "@", "é", "\xff",
	"<td>", "</td>", "mailto:", "tel:", "ID", "A", "Z", "x", "00", "9", "-1", "+49", "1e-05",
}

func TestFindWindowsMatchWholeText(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	kinds := map[Kind]int{}
	for i := 0; i < 8000; i++ {
		var b strings.Builder
		for n := 1 + r.IntN(12); n > 0; n-- {
			b.WriteString(windowSamples[r.IntN(len(windowSamples))])
		}
		text := b.String()
		got, want := Find(text), findWhole(text)
		if !slices.Equal(got, want) {
			t.Fatalf("Find(%q)\n got %v\nwant %v", text, got, want)
		}
		for _, m := range got {
			kinds[m.Kind]++
		}
	}
	// The comparison means something only if every kind is found often.
	for _, k := range []Kind{Email, Phone, CreditCard, IBAN, USSSN, UKNINO, Aadhaar, SpanishID, IPAddress} {
		if kinds[k] < 50 {
			t.Errorf("%s found %d times in the random texts; want at least 50", k, kinds[k])
		}
	}
}

func FuzzFindWindows(f *testing.F) {
	for i := 0; i+3 < len(windowSamples); i += 3 {
		f.Add(strings.Join(windowSamples[i:i+4], " "))
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Find(s), findWhole(s); !slices.Equal(got, want) {
			t.Fatalf("Find(%q)\n got %v\nwant %v", s, got, want)
		}
	})
}

// numericOutput is a printed data frame of floats, the common large output.
func numericOutput(rows int) string {
	var b strings.Builder
	for j := 0; j < rows; j++ {
		fmt.Fprintf(&b, "%5d  %.6f  %.6f  %.6f  row-%d  ok\n", j, float64(j)/7, float64(j)/3, float64(j*j)/11, j)
	}
	return b.String()
}

func BenchmarkFindNumeric(b *testing.B) {
	text := numericOutput(20000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if ms := Find(text); len(ms) != 0 {
			b.Fatalf("%d matches", len(ms))
		}
	}
}

func BenchmarkFindNumericWholeText(b *testing.B) {
	text := numericOutput(20000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		findWhole(text)
	}
}

// denseOutput is a printed table of contacts: every row holds personal data.
func denseOutput(rows int) string {
	var b strings.Builder
	for j := 0; j < rows; j++ {
		fmt.Fprintf(&b, "%5d  user%d@example.org  +44 20 7946 %04d  81.2.%d.%d\n", j, j, j%10000, j/250%250, j%250+1)
	}
	return b.String()
}

func TestFindDenseMatchesWholeText(t *testing.T) {
	t.Parallel()
	text := denseOutput(500)
	got, want := Find(text), findWhole(text)
	if !slices.Equal(got, want) || len(got) < 1000 {
		t.Fatalf("Find: %d matches, whole text: %d", len(got), len(want))
	}
}

func BenchmarkFindDense(b *testing.B) {
	text := denseOutput(10000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Find(text)
	}
}
