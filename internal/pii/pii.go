// Package pii recognises personal data in text and in tabular values:
// e-mail addresses, telephone numbers (validated against libphonenumber's
// metadata), payment card numbers (issuer prefix and Luhn check), IBANs
// (country length and ISO 7064 mod 97-10), national identifiers with their
// own checks (US SSN, UK National Insurance number, Indian Aadhaar with the
// Verhoeff check, Spanish DNI/NIE check letter) and public IP addresses. It
// also recognises column names that announce personal data. Matches carry
// positions and kinds, never copies of the values.
package pii

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Kind is a category of personal data.
type Kind string

// Kinds recognised from values (and from column names).
const (
	Email      Kind = "email"
	Phone      Kind = "phone"
	CreditCard Kind = "credit-card"
	IBAN       Kind = "iban"
	USSSN      Kind = "us-ssn"
	UKNINO     Kind = "uk-nino"
	Aadhaar    Kind = "in-aadhaar"
	SpanishID  Kind = "es-dni"
	IPAddress  Kind = "ip-address"
)

// Kinds recognised from column names only (no reliable value pattern).
const (
	PersonName    Kind = "person-name"
	PostalAddress Kind = "postal-address"
	DateOfBirth   Kind = "date-of-birth"
	Passport      Kind = "passport-number"
	NationalID    Kind = "national-id"
	DriverLicense Kind = "driver-license"
)

// Sensitive reports whether a kind is financial or a government identifier,
// whose exposure is graver than contact data.
func Sensitive(k Kind) bool {
	switch k {
	case CreditCard, IBAN, USSSN, UKNINO, Aadhaar, SpanishID, Passport, NationalID, DriverLicense:
		return true
	}
	return false
}

// Match is one piece of personal data in a text.
type Match struct {
	Kind       Kind
	Start, End int // byte offsets
}

type detector struct {
	kind  Kind
	re    *regexp.Regexp
	need  func(string) bool // cheap prefilter over the whole text
	valid func(text string, start, end int) bool
	// span, when set, replaces valid and may shorten a greedy match.
	span func(text string, start, end int) (int, bool)
	// win, when set, confines the regexp to the maximal runs of bytes the
	// pattern can match at all (see window).
	win *window
	// inRun, when set, replaces the regexp search inside a run.
	inRun func(text string, s, e int, f func(s, e int))
}

func (d *detector) check(text string, s, e int) (int, bool) {
	if d.span != nil {
		return d.span(text, s, e)
	}
	return e, d.valid(text, s, e)
}

var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}`)
	// International numbers with "+", and North American numbers written
	// with separators; libphonenumber decides.
	rePhone = regexp.MustCompile(`\+[1-9][0-9]{0,3}(?:[ .\-]?\(?[0-9]{1,5}\)?){1,6}|\(?[2-9][0-9]{2}\)?[ .\-][2-9][0-9]{2}[.\-][0-9]{4}`)
	reCard  = regexp.MustCompile(`[0-9](?:[ \-]?[0-9]){12,18}`)
	reIBAN  = regexp.MustCompile(`[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}`)
	reSSN   = regexp.MustCompile(`[0-9]{3}-[0-9]{2}-[0-9]{4}`)
	reNINO  = regexp.MustCompile(`[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]`)
	reAadh  = regexp.MustCompile(`[2-9][0-9]{3}[ \-][0-9]{4}[ \-][0-9]{4}`)
	reDNI   = regexp.MustCompile(`[XYZ]?[0-9]{7,8}-?[A-Z]`)
	reIPv4  = regexp.MustCompile(`[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}`)
	reIPv6  = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){3,7}`)
)

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

var detectors = []detector{
	{kind: Email, re: reEmail, need: func(s string) bool { return strings.IndexByte(s, '@') >= 0 }, valid: validEmail,
		win: newWindow("A-Za-z0-9._%+\\-@", '@', func(r run) bool { return r.special > 0 && r.n >= 6 })},
	{kind: CreditCard, re: reCard, need: hasDigit, valid: validCard,
		win: newWindow("0-9 \\-", 0, func(r run) bool { return r.digits >= 13 && digitChain(r.s) >= 13 })},
	{kind: IBAN, re: reIBAN, need: hasDigit, span: spanIBAN,
		win: newWindow("A-Z0-9 ", 0, func(r run) bool { return r.upper >= 2 && r.digits >= 2 && r.upper+r.digits >= 15 })},
	{kind: USSSN, re: reSSN, need: func(s string) bool { return strings.IndexByte(s, '-') >= 0 }, valid: validSSN,
		win: newWindow("0-9\\-", '-', func(r run) bool { return r.special >= 2 && r.digits >= 9 })},
	{kind: UKNINO, re: reNINO, need: hasDigit, valid: validNINO,
		win: newWindow("A-Z0-9 ", 0, func(r run) bool { return r.upper >= 3 && r.digits >= 6 })},
	{kind: Aadhaar, re: reAadh, need: hasDigit, valid: validAadhaar,
		win: newWindow("0-9 \\-", 0, func(r run) bool { return r.digits >= 12 && r.n >= 14 && digitChain(r.s) >= 12 })},
	{kind: SpanishID, re: reDNI, need: hasDigit, valid: validDNI,
		win: newWindow("A-Z0-9\\-", 0, func(r run) bool { return r.upper >= 1 && r.digits >= 7 })},
	// A phone match needs a "+" (first form) or a "[2-9]dd[.-]dddd" tail
	// (second form), and the span check wants at least 8 digits.
	{kind: Phone, re: rePhone, need: hasDigit, span: spanPhone, inRun: phoneMatches,
		win: newWindow("0-9 .\\-()+", '+', func(r run) bool { return r.digits >= 8 && (r.special > 0 || phoneTail(r.s)) })},
	{kind: IPAddress, re: reIPv4, need: func(s string) bool { return strings.IndexByte(s, '.') >= 0 }, valid: validIPv4,
		win: newWindow("0-9.", '.', func(r run) bool { return r.special >= 3 && r.digits >= 4 })},
	{kind: IPAddress, re: reIPv6, need: func(s string) bool { return strings.Count(s, ":") >= 3 }, valid: validIPv6,
		win: newWindow("0-9A-Fa-f:", ':', func(r run) bool { return r.special >= 3 })},
}

// window is a cheap, exact pre-filter for a detector's regexp. None of the
// patterns has anchors or word boundaries, and each can only match bytes of
// one ASCII class, so every match lies inside one maximal run of bytes of
// that class, and the leftmost-first matches the regexp finds in the whole
// text are exactly those it finds in each run on its own. Runs that cannot
// hold a match (too few digits, no "@", ...) are skipped without running the
// regexp; on large numeric outputs that is nearly all of them.
type window struct {
	class   [256]bool
	special byte // counted in run.special; if also anchor, runs are found from it
	anchor  bool
	ok      func(run) bool
}

// run is one maximal run of class bytes and what it contains.
type run struct {
	s                         string
	n, digits, upper, special int
}

// newWindow builds a window from a character-class body in regexp syntax
// limited to ranges, single bytes and "\\-".
func newWindow(class string, special byte, ok func(run) bool) *window {
	w := &window{special: special, anchor: special == '@', ok: ok}
	b := strings.ReplaceAll(class, `\-`, "\x00")
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == 0 {
			c = '-'
		}
		if i+2 < len(b) && b[i+1] == '-' {
			for x := int(c); x <= int(b[i+2]); x++ {
				w.class[x] = true
			}
			i += 2
			continue
		}
		w.class[c] = true
	}
	return w
}

// runs calls f with the start and end of every run that may hold a match.
func (w *window) runs(text string, f func(s, e int)) {
	i := 0
	for i < len(text) {
		if w.anchor {
			k := strings.IndexByte(text[i:], w.special)
			if k < 0 {
				return
			}
			k += i
			for k > i && w.class[text[k-1]] {
				k--
			}
			i = k
		} else if !w.class[text[i]] {
			i++
			continue
		}
		r := run{}
		j := i
		for ; j < len(text); j++ {
			c := text[j]
			if !w.class[c] {
				break
			}
			switch {
			case isDigit(c):
				r.digits++
			case c >= 'A' && c <= 'Z':
				r.upper++
			case c == w.special:
				r.special++
			}
		}
		r.s, r.n = text[i:j], j-i
		if w.ok(r) {
			f(i, j)
		}
		i = j
	}
}

// rePhoneAt is rePhone anchored at the start of its input; phoneMaxLen is
// at least the longest text rePhone can match (53 bytes).
var rePhoneAt = regexp.MustCompile(`^(?:` + rePhone.String() + `)`)

const phoneMaxLen = 64

// phoneMatches finds rePhone's matches in text[s:e] as FindAllStringIndex
// would, but tries the regexp only where a match can begin: at a "+" (first
// form) or 4 to 6 bytes before a "[2-9]dd[.-]dddd" tail (second form, whose
// "(ddd) " or "ddd-" head is 4 to 6 bytes long). Numeric tables have many
// digits and dots but few such places.
func phoneMatches(text string, s, e int, f func(s, e int)) {
	tailAt := func(t int) bool { return t >= s && t+8 <= e && phoneTail(text[t:t+8]) }
	for p := s; p < e; {
		c := -1
		for i := p; i < e; i++ {
			if text[i] == '+' || tailAt(i+4) || tailAt(i+5) || tailAt(i+6) {
				c = i
				break
			}
		}
		if c < 0 {
			return
		}
		loc := rePhoneAt.FindStringIndex(text[c:min(c+phoneMaxLen, e)])
		if loc == nil {
			p = c + 1
			continue
		}
		f(c, c+loc[1])
		p = c + loc[1]
	}
}

// digitChain returns the most digits in s joined by at most one other byte
// each, as card and Aadhaar numbers are ("4111 1111 ...", not "0.5  12").
func digitChain(s string) int {
	best, n, gap := 0, 0, 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
			gap = 0
			best = max(best, n)
			continue
		}
		gap++
		if gap > 1 {
			n = 0
		}
	}
	return best
}

// phoneTail reports whether s contains "[2-9][0-9]{2}[.-][0-9]{4}", the end
// of the North American form.
func phoneTail(s string) bool {
	for i := 0; i+8 <= len(s); i++ {
		if s[i] >= '2' && s[i] <= '9' && isDigit(s[i+1]) && isDigit(s[i+2]) && (s[i+3] == '.' || s[i+3] == '-') &&
			isDigit(s[i+4]) && isDigit(s[i+5]) && isDigit(s[i+6]) && isDigit(s[i+7]) {
			return true
		}
	}
	return false
}

// matches calls f with every match of the detector's regexp in text, in
// order, exactly as FindAllStringIndex over the whole text would.
func (d *detector) matches(text string, f func(s, e int)) {
	if d.win == nil {
		for _, loc := range d.re.FindAllStringIndex(text, -1) {
			f(loc[0], loc[1])
		}
		return
	}
	d.win.runs(text, func(s, e int) {
		if d.inRun != nil {
			d.inRun(text, s, e, f)
			return
		}
		for _, loc := range d.re.FindAllStringIndex(text[s:e], -1) {
			f(s+loc[0], s+loc[1])
		}
	})
}

// Find returns the personal data in text, ordered by position. Overlapping
// candidates resolve to the first detector in a fixed priority order
// (e-mail, card, IBAN, national IDs, phone, IP).
func Find(text string) []Match {
	// out stays sorted and free of overlaps. A detector's matches come in
	// order and do not overlap one another, so each is checked against the
	// earlier detectors' matches with a cursor and merged in afterwards.
	var out, add []Match
	for _, d := range detectors {
		if !d.need(text) {
			continue
		}
		add = add[:0]
		i := 0
		d.matches(text, func(s, e int) {
			e, ok := d.check(text, s, e)
			if !ok {
				return
			}
			for i < len(out) && out[i].End <= s {
				i++
			}
			if i < len(out) && out[i].Start < e {
				return
			}
			add = append(add, Match{Kind: d.kind, Start: s, End: e})
		})
		if len(add) > 0 {
			out = mergeMatches(out, add)
		}
	}
	return out
}

// mergeMatches merges two position-ordered lists.
func mergeMatches(a, b []Match) []Match {
	out := make([]Match, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Start < b[0].Start {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// Classify says what kind of personal data a whole value is (a table cell),
// or "" if none. Surrounding white space is ignored.
func Classify(value string) Kind {
	v := strings.TrimSpace(value)
	if len(v) < 7 || len(v) > 254 {
		return ""
	}
	for _, d := range detectors {
		if !d.need(v) {
			continue
		}
		loc := d.re.FindStringIndex(v)
		if loc == nil || loc[0] != 0 || loc[1] != len(v) {
			continue
		}
		if e, ok := d.check(v, 0, len(v)); ok && e == len(v) {
			return d.kind
		}
	}
	return ""
}

func isWord(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// bounded reports whether the match stands alone: no word character (or,
// for numbers, a digit group continuing with '.' or '-') on either side.
func bounded(text string, s, e int) bool {
	if s > 0 {
		p := text[s-1]
		if isWord(p) || (p == '.' || p == '-' || p == '+' || p == '/') && s > 1 && isWord(text[s-2]) {
			return false
		}
	}
	if e < len(text) {
		n := text[e]
		if isWord(n) {
			return false
		}
		if (n == '.' || n == '-' || n == '/') && e+1 < len(text) && isDigit(text[e+1]) {
			return false
		}
	}
	return true
}

// Image and code file names look like addresses ("logo@2x.png").
var fileTLDs = map[string]bool{
	"png": true, "jpg": true, "jpeg": true, "gif": true, "svg": true, "webp": true, "ico": true,
	"py": true, "js": true, "ts": true, "css": true, "html": true, "json": true, "txt": true,
	"md": true, "ipynb": true, "csv": true, "pdf": true, "whl": true, "tar": true, "gz": true, "zip": true,
}

var notPersonal = map[string]bool{"git": true, "noreply": true, "no-reply": true, "donotreply": true}

func validEmail(text string, s, e int) bool {
	if s > 0 && (isWord(text[s-1]) || text[s-1] == '.' || text[s-1] == '-') {
		return false
	}
	if e < len(text) && (isWord(text[e]) || text[e] == '-' || text[e] == '@') {
		return false
	}
	addr := text[s:e]
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], strings.ToLower(addr[at+1:])
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	if notPersonal[strings.ToLower(local)] {
		return false
	}
	tld := domain[strings.LastIndexByte(domain, '.')+1:]
	return !fileTLDs[tld]
}

func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Luhn reports whether a digit string passes the Luhn (mod 10) check.
func Luhn(digits string) bool {
	if len(digits) < 2 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if !isDigit(c) {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func prefixIn(d string, lo, hi int, width int) bool {
	if len(d) < width {
		return false
	}
	n := 0
	for i := 0; i < width; i++ {
		n = n*10 + int(d[i]-'0')
	}
	return n >= lo && n <= hi
}

// cardIssuer names the network whose number ranges and lengths fit.
func cardIssuer(d string) string {
	n := len(d)
	switch {
	case d[0] == '4' && (n == 13 || n == 16 || n == 19):
		return "visa"
	case (prefixIn(d, 51, 55, 2) || prefixIn(d, 2221, 2720, 4)) && n == 16:
		return "mastercard"
	case (prefixIn(d, 34, 34, 2) || prefixIn(d, 37, 37, 2)) && n == 15:
		return "amex"
	case (prefixIn(d, 6011, 6011, 4) || prefixIn(d, 644, 649, 3) || prefixIn(d, 65, 65, 2)) && n >= 16:
		return "discover"
	case prefixIn(d, 3528, 3589, 4) && n >= 16:
		return "jcb"
	case (prefixIn(d, 300, 305, 3) || prefixIn(d, 36, 36, 2) || prefixIn(d, 38, 39, 2)) && n >= 14:
		return "diners"
	case prefixIn(d, 62, 62, 2) && n >= 16:
		return "unionpay"
	}
	return ""
}

func validCard(text string, s, e int) bool {
	if !bounded(text, s, e) {
		return false
	}
	raw := text[s:e]
	// Separators, if any, must be one kind and group the digits in fours
	// (or Amex's 4-6-5).
	sep := byte(0)
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c == ' ' || c == '-' {
			if sep != 0 && sep != c {
				return false
			}
			sep = c
		}
	}
	if sep != 0 {
		groups := strings.Split(raw, string(sep))
		ok := true
		for i, g := range groups {
			if len(g) != 4 && !(i == len(groups)-1 && len(g) >= 1 && len(g) <= 4) {
				ok = false
			}
		}
		amex := len(groups) == 3 && len(groups[0]) == 4 && len(groups[1]) == 6 && len(groups[2]) == 5
		if !ok && !amex {
			return false
		}
	}
	d := digitsOf(raw)
	if len(d) < 13 || len(d) > 19 || strings.Count(d, d[:1]) == len(d) {
		return false
	}
	return cardIssuer(d) != "" && Luhn(d)
}

var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
	"MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
	"QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
	"ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// ValidIBAN reports whether s (spaces allowed) is an IBAN of its country's
// length whose check digits verify (ISO 13616, mod 97-10).
func ValidIBAN(s string) bool {
	c := strings.ReplaceAll(s, " ", "")
	if len(c) < 15 || ibanLength[c[:2]] != len(c) {
		return false
	}
	r := c[4:] + c[:4]
	rem := 0
	for i := 0; i < len(r); i++ {
		ch := r[i]
		switch {
		case isDigit(ch):
			rem = (rem*10 + int(ch-'0')) % 97
		case ch >= 'A' && ch <= 'Z':
			rem = (rem*100 + int(ch-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// spanIBAN cuts the greedy candidate at the country's IBAN length.
func spanIBAN(text string, s, e int) (int, bool) {
	if s > 0 && isWord(text[s-1]) {
		return e, false
	}
	want := ibanLength[text[s:s+2]]
	if want == 0 {
		return e, false
	}
	n := 0
	for i := s; i < e; i++ {
		if text[i] == ' ' {
			continue
		}
		n++
		if n == want {
			end := i + 1
			if end < len(text) && isWord(text[end]) {
				return e, false
			}
			return end, ValidIBAN(text[s:end])
		}
	}
	return e, false
}

func validSSN(text string, s, e int) bool {
	if !bounded(text, s, e) {
		return false
	}
	v := text[s:e]
	area, group, serial := v[0:3], v[4:6], v[7:11]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return false
	}
	// Numbers the SSA has published as never valid (advertising samples).
	return v != "078-05-1120" && v != "219-09-9999"
}

func validNINO(text string, s, e int) bool {
	if !bounded(text, s, e) {
		return false
	}
	switch text[s : s+2] {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return false
	}
	// Spaces, if any, must be all of the usual ones (AB 12 34 56 C).
	v := text[s:e]
	if n := strings.Count(v, " "); n != 0 && n != 4 {
		return false
	}
	return true
}

var verhoeffD = [10][10]int{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5}, {2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
	{3, 4, 0, 1, 2, 8, 9, 5, 6, 7}, {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
	{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3}, {8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
	{9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
}

var verhoeffP = [8][10]int{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4}, {5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
	{8, 9, 1, 6, 0, 4, 3, 5, 2, 7}, {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
	{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
}

// Verhoeff reports whether a digit string passes the Verhoeff check.
func Verhoeff(digits string) bool {
	c := 0
	for i := 0; i < len(digits); i++ {
		ch := digits[len(digits)-1-i]
		if !isDigit(ch) {
			return false
		}
		c = verhoeffD[c][verhoeffP[i%8][ch-'0']]
	}
	return len(digits) > 1 && c == 0
}

func validAadhaar(text string, s, e int) bool {
	if !bounded(text, s, e) {
		return false
	}
	v := text[s:e]
	if v[4] != v[9] { // one separator throughout
		return false
	}
	return Verhoeff(digitsOf(v))
}

const dniLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

func validDNI(text string, s, e int) bool {
	if !bounded(text, s, e) {
		return false
	}
	v := strings.ReplaceAll(text[s:e], "-", "")
	letter := v[len(v)-1]
	num := v[:len(v)-1]
	switch num[0] {
	case 'X':
		num = "0" + num[1:]
	case 'Y':
		num = "1" + num[1:]
	case 'Z':
		num = "2" + num[1:]
	default:
		if len(num) != 8 {
			return false
		}
	}
	if len(num) != 8 {
		return false
	}
	n := 0
	for i := 0; i < len(num); i++ {
		n = n*10 + int(num[i]-'0')
	}
	return dniLetters[n%23] == letter
}

// spanPhone tries the candidate and then shorter prefixes of it that end
// at a digit group, so a number followed by other digits is still found.
func spanPhone(text string, s, e int) (int, bool) {
	for end := e; end > s; end-- {
		if !isDigit(text[end-1]) && text[end-1] != ')' {
			continue
		}
		if end < e && isDigit(text[end]) {
			continue
		}
		if validPhone(text, s, end) {
			return end, true
		}
	}
	return e, false
}

func validPhone(text string, s, e int) bool {
	if !bounded(text, s, e) {
		return false
	}
	v := text[s:e]
	d := digitsOf(v)
	if len(d) < 8 || len(d) > 15 {
		return false
	}
	// Dates and times are not telephone numbers.
	if strings.Count(v, "-") == 2 && len(d) == 8 {
		return false
	}
	region := "US"
	if v[0] == '+' {
		region = ""
	}
	num, err := phonenumbers.Parse(v, region)
	if err != nil {
		return false
	}
	return phonenumbers.IsValidNumber(num)
}

func validIPv4(text string, s, e int) bool {
	if s > 0 {
		p := text[s-1]
		if isWord(p) || p == '.' || p == '-' {
			return false
		}
	}
	if e < len(text) {
		n := text[e]
		if isWord(n) || n == '.' && e+1 < len(text) && isDigit(text[e+1]) {
			return false
		}
	}
	v := text[s:e]
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return false
	}
	// Four single digits are far more often a version than an address.
	if len(v) == 7 {
		return false
	}
	return publicAddr(a)
}

func validIPv6(text string, s, e int) bool {
	isHexOrColon := func(b byte) bool {
		return b == ':' || isDigit(b) || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
	}
	if s > 0 && (isHexOrColon(text[s-1]) || isWord(text[s-1])) {
		return false
	}
	if e < len(text) && (isHexOrColon(text[e]) || isWord(text[e]) || text[e] == '.') {
		return false
	}
	a, err := netip.ParseAddr(text[s:e])
	if err != nil || !a.Is6() || a.Is4In6() {
		return false
	}
	return publicAddr(a)
}

// publicAddr keeps addresses that can identify a person or host on the
// Internet: global unicast outside private ranges.
func publicAddr(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate()
}
