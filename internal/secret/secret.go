// Package secret finds credentials in text with gitleaks' detector and its
// default rule set (some 200 provider-specific rules plus a generic,
// entropy-checked one), and redacts what it finds. Callers never see a
// secret's value: a Match carries only a redacted form and a position.
package secret

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

// Match is one secret found in a text.
type Match struct {
	// Rule is gitleaks' rule ID ("github-pat", "aws-access-token").
	Rule string
	// Description is the rule's description ("GitHub Personal Access Token").
	Description string
	// Line is the 0-based line of the text the secret starts on; Offset is
	// its byte offset in the text; Column is 1-based (bytes) within the line.
	Line, Column, Offset int
	// Length is the value's length in bytes.
	Length int
	// Redacted shows at most a short non-secret prefix and the length.
	Redacted string
	// Fingerprint is a short SHA-256 prefix of the value, for correlating
	// occurrences without revealing it.
	Fingerprint string
	// Entropy is the Shannon entropy gitleaks computed for the value.
	Entropy float32
}

var (
	once     sync.Once
	detector *detect.Detector
	initErr  error
)

func load() (*detect.Detector, error) {
	once.Do(func() {
		// gitleaks logs to stderr through a package-level logger; a library
		// stays silent.
		logging.Logger = zerolog.Nop()
		detector, initErr = detect.NewDetectorDefaultConfig()
		if initErr != nil {
			initErr = fmt.Errorf("secret: load gitleaks default rules: %w", initErr)
		}
	})
	return detector, initErr
}

// Rules returns how many detection rules are loaded.
func Rules() (int, error) {
	d, err := load()
	if err != nil {
		return 0, err
	}
	return len(d.Config.Rules), nil
}

// Find returns the secrets in text, in order of position. It is safe for
// concurrent use.
func Find(ctx context.Context, text string) ([]Match, error) {
	if text == "" {
		return nil, nil
	}
	d, err := load()
	if err != nil {
		return nil, err
	}
	fs := d.DetectString(text)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lines := lineStarts(text)
	out := make([]Match, 0, len(fs))
	seen := map[string]bool{}
	for _, f := range fs {
		value := f.Secret
		if value == "" {
			value = f.Match
		}
		off := locate(text, lines, f.StartLine, f.Match, value)
		key := fmt.Sprintf("%s\x00%d\x00%s", f.RuleID, off, value)
		if seen[key] {
			continue
		}
		seen[key] = true
		line := lineOf(lines, off)
		out = append(out, Match{
			Rule:        f.RuleID,
			Description: f.Description,
			Line:        line,
			Column:      off - lines[line] + 1,
			Offset:      off,
			Length:      len(value),
			Redacted:    Redact(value),
			Fingerprint: Fingerprint(value),
			Entropy:     f.Entropy,
		})
	}
	sortMatches(out)
	return out, nil
}

func sortMatches(ms []Match) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Offset < ms[j-1].Offset; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// lineStarts returns the byte offset of each line's start.
func lineStarts(s string) []int {
	starts := []int{0}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func lineOf(starts []int, off int) int {
	lo, hi := 0, len(starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// locate finds the byte offset of the secret: gitleaks reports a 0-based
// start line; the value is searched from that line's start (the match
// first, so a repeated value binds to this occurrence).
func locate(text string, starts []int, line int, match, value string) int {
	from := 0
	if line >= 0 && line < len(starts) {
		from = starts[line]
	}
	if i := strings.Index(text[from:], match); i >= 0 && match != "" {
		base := from + i
		if j := strings.Index(match, value); j >= 0 {
			return base + j
		}
		return base
	}
	if i := strings.Index(text[from:], value); i >= 0 {
		return from + i
	}
	if i := strings.Index(text, value); i >= 0 {
		return i
	}
	return from
}

// Redact returns a form of a secret safe to print: for values of 20 or more
// characters the first four (typically a public type prefix such as "ghp_"
// or "AKIA"), then the length; shorter values are masked whole.
func Redact(value string) string {
	n := utf8.RuneCountInString(value)
	if n >= 20 {
		r := []rune(value)
		prefix := string(r[:4])
		if strings.ContainsAny(prefix, "\r\n\t ") {
			prefix = ""
		}
		return fmt.Sprintf("%s…[REDACTED, %d chars]", prefix, n)
	}
	return fmt.Sprintf("[REDACTED, %d chars]", n)
}

// Fingerprint returns the first 12 hex digits of the value's SHA-256.
func Fingerprint(value string) string {
	h := sha256.Sum256([]byte(value))
	return hex.EncodeToString(h[:6])
}

// RedactIn returns text with every secret found in it replaced by its
// redacted form, for showing commands and lines as evidence.
func RedactIn(ctx context.Context, text string) (string, error) {
	ms, err := Find(ctx, text)
	if err != nil || len(ms) == 0 {
		return text, err
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		if m.Offset < last || m.Offset+m.Length > len(text) {
			continue
		}
		b.WriteString(text[last:m.Offset])
		b.WriteString(m.Redacted)
		last = m.Offset + m.Length
	}
	b.WriteString(text[last:])
	return b.String(), nil
}
