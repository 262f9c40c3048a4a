// Package table renders a finding.Report for people: findings grouped per
// artifact in aligned columns (severity, rule, title, location) with the
// evidence beneath, inconclusive artifacts with their gaps, and a one-line
// summary. Output is deterministic for a given report.
//
// Every string that can come from scanned content (paths, member names,
// evidence, gaps) is escaped before it reaches the terminal: a model file
// must not be able to hide a finding with ANSI sequences, carriage returns
// or bidirectional-override characters.
package table

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mlsec/mlsec/internal/finding"
)

// Options tune the table.
type Options struct {
	// Color adds ANSI colours by severity.
	Color bool
	// Verbose lists clean and skipped artifacts too.
	Verbose bool
	// Quiet prints only the summary line.
	Quiet bool
}

// Encoder writes the table.
type Encoder struct{ opts Options }

// New returns a table encoder.
func New(opts Options) *Encoder { return &Encoder{opts: opts} }

// Limits on what one finding may print; the JSON report has everything.
const (
	maxTitleWidth    = 48
	maxEvidenceLines = 8
	maxLineRunes     = 200
	maxGaps          = 50
)

const inconclusiveLabel = "INCONCLUSIVE — not verified clean"

// ANSI SGR sequences.
const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiDim     = "\x1b[2m"
	ansiRed     = "\x1b[31m"
	ansiBoldRed = "\x1b[1;31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiBoldYel = "\x1b[1;33m"
	ansiCyan    = "\x1b[36m"
)

func severityColor(s finding.Severity) string {
	switch s {
	case finding.Critical:
		return ansiBoldRed
	case finding.High:
		return ansiRed
	case finding.Medium:
		return ansiYellow
	case finding.Low:
		return ansiCyan
	default:
		return ansiDim
	}
}

// Encode writes the table for r.
func (e *Encoder) Encode(w io.Writer, r *finding.Report) error {
	if r == nil {
		return errors.New("table report: nil report")
	}
	p := &printer{color: e.opts.Color}
	arts := sortedArtifacts(r.Artifacts)
	if !e.opts.Quiet {
		e.body(p, arts)
	}
	p.line(summary(arts, p))
	if _, err := io.WriteString(w, p.b.String()); err != nil {
		return fmt.Errorf("table report: %w", err)
	}
	return nil
}

func (e *Encoder) body(p *printer, arts []finding.ArtifactResult) {
	cols := widths(arts)
	first := true
	sep := func() {
		if !first {
			p.line("")
		}
		first = false
	}
	for _, a := range arts {
		switch {
		case len(a.Findings) > 0 || a.Status == finding.StatusInconclusive:
			sep()
			e.header(p, a)
			for _, f := range a.Findings {
				row(p, cols, f)
			}
			gaps(p, a.Gaps)
			if a.Status == finding.StatusInconclusive && len(a.Gaps) == 0 {
				p.line("  gap: no reason recorded")
			}
		case e.opts.Verbose:
			// Clean and skipped artifacts only on request.
			sep()
			e.header(p, a)
		}
	}
	if !first {
		p.line("")
	}
}

// columns holds the padded widths of the finding rows.
type columns struct{ sev, rule, title int }

func widths(arts []finding.ArtifactResult) columns {
	c := columns{sev: len("CRITICAL")}
	for _, a := range arts {
		for _, f := range a.Findings {
			c.sev = max(c.sev, runeLen(sevLabel(f.Severity)))
			c.rule = max(c.rule, runeLen(clean(f.RuleID)))
			c.title = max(c.title, min(runeLen(clean(f.Title)), maxTitleWidth))
		}
	}
	return c
}

func (e *Encoder) header(p *printer, a finding.ArtifactResult) {
	p.line(header(p, a))
	if e.opts.Verbose && a.Artifact.SHA256 != "" {
		p.line("  sha256 " + clean(a.Artifact.SHA256))
	}
}

func header(p *printer, a finding.ArtifactResult) string {
	var b strings.Builder
	b.WriteString(p.paint(ansiBold, clean(a.Artifact.Path)))
	var meta []string
	if a.Artifact.Format != "" {
		meta = append(meta, clean(a.Artifact.Format))
	}
	if a.Artifact.Size > 0 || a.Status != finding.StatusSkipped {
		meta = append(meta, sizeText(a.Artifact.Size))
	}
	if a.Members > 0 {
		meta = append(meta, plural(a.Members, "member", "members"))
	}
	if len(meta) > 0 {
		b.WriteString(" (" + strings.Join(meta, ", ") + ")")
	}
	switch {
	case a.Status == finding.StatusInconclusive:
		b.WriteString("  " + p.paint(ansiBoldYel, inconclusiveLabel))
	case a.Status == finding.StatusSkipped:
		b.WriteString("  " + p.paint(ansiDim, "skipped (not a model format)"))
	case a.Status != finding.StatusComplete:
		// An unknown status is not a clean one.
		b.WriteString("  " + p.paint(ansiBoldYel, "status "+clean(string(a.Status))+" — not verified clean"))
	case len(a.Findings) == 0:
		b.WriteString("  " + p.paint(ansiGreen, "no findings"))
	}
	return b.String()
}

func row(p *printer, c columns, f finding.Finding) {
	sev := pad(sevLabel(f.Severity), c.sev)
	title := clean(f.Title)
	if runeLen(title) > maxTitleWidth {
		title = truncate(title, maxTitleWidth)
	}
	line := "  " + p.paint(severityColor(f.Severity), sev) + "  " + pad(clean(f.RuleID), c.rule) + "  " + pad(title, c.title)
	if loc := location(f.Location); loc != "" {
		line += "  " + loc
	}
	p.line(strings.TrimRight(line, " "))
	indent := strings.Repeat(" ", 2+c.sev+2)
	lines := strings.Split(strings.TrimRight(f.Evidence.Text, "\r\n"), "\n")
	if f.Evidence.Text == "" {
		lines = nil
	}
	for i, l := range lines {
		if i == maxEvidenceLines {
			p.line(indent + p.paint(ansiDim, fmt.Sprintf("… %d more lines (see --format json)", len(lines)-i)))
			break
		}
		p.line(indent + truncate(clean(strings.TrimRight(l, "\r")), maxLineRunes))
	}
}

func gaps(p *printer, gs []string) {
	for i, g := range gs {
		if i == maxGaps {
			p.line("  " + p.paint(ansiDim, fmt.Sprintf("… %d more gaps (see --format json)", len(gs)-i)))
			return
		}
		p.line("  gap: " + truncate(clean(g), maxLineRunes))
	}
}

// location renders member, offset, line and opcode: "data.pkl @64 op 12".
func location(l finding.Location) string {
	var parts []string
	if l.Member != "" {
		parts = append(parts, clean(l.Member))
	}
	switch {
	case l.Line > 0 && l.Column > 0:
		parts = append(parts, fmt.Sprintf("line %d:%d", l.Line, l.Column))
	case l.Line > 0:
		parts = append(parts, fmt.Sprintf("line %d", l.Line))
	}
	if l.Offset != nil {
		parts = append(parts, fmt.Sprintf("@%d", *l.Offset))
	}
	if l.Opcode != nil {
		parts = append(parts, fmt.Sprintf("op %d", *l.Opcode))
	}
	if l.Pointer != "" {
		parts = append(parts, clean(l.Pointer))
	}
	return strings.Join(parts, " ")
}

// summary is the last line: "2 critical, 1 high in 12 files; 1 inconclusive
// (not verified clean); 3 skipped (not model formats)".
func summary(arts []finding.ArtifactResult, p *printer) string {
	var bySev [finding.Critical + 1]int
	var other, scanned, inconclusive, skipped int
	for _, a := range arts {
		switch a.Status {
		case finding.StatusSkipped:
			skipped++
		case finding.StatusComplete:
			scanned++
		default:
			scanned++
			inconclusive++
		}
		for _, f := range a.Findings {
			if f.Severity >= finding.Info && f.Severity <= finding.Critical {
				bySev[f.Severity]++
			} else {
				other++
			}
		}
	}
	var counts []string
	for s := finding.Critical; s >= finding.Info; s-- {
		if bySev[s] > 0 {
			counts = append(counts, p.paint(severityColor(s), fmt.Sprintf("%d %s", bySev[s], s)))
		}
	}
	if other > 0 {
		counts = append(counts, fmt.Sprintf("%d of unknown severity", other))
	}
	files := plural(scanned, "file", "files")
	var s string
	switch {
	case scanned == 0 && len(counts) == 0:
		s = "no files scanned"
	case len(counts) == 0 && inconclusive == 0:
		s = p.paint(ansiGreen, "no findings") + " in " + files
	case len(counts) == 0:
		s = "no findings in " + files
	default:
		s = strings.Join(counts, ", ") + " in " + files
	}
	if inconclusive > 0 {
		s += "; " + p.paint(ansiBoldYel, fmt.Sprintf("%d inconclusive (not verified clean)", inconclusive))
	}
	if skipped > 0 {
		what := "not model formats"
		if skipped == 1 {
			what = "not a model format"
		}
		s += fmt.Sprintf("; %d skipped (%s)", skipped, what)
	}
	return s
}

func sortedArtifacts(in []finding.ArtifactResult) []finding.ArtifactResult {
	out := make([]finding.ArtifactResult, len(in))
	for i, a := range in {
		a.Findings = append([]finding.Finding(nil), a.Findings...)
		finding.SortFindings(a.Findings)
		out[i] = a
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Artifact.Path < out[j].Artifact.Path })
	return out
}

type printer struct {
	b     strings.Builder
	color bool
}

func (p *printer) line(s string) { p.b.WriteString(s); p.b.WriteByte('\n') }

func (p *printer) paint(code, s string) string {
	if !p.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

func sevLabel(s finding.Severity) string { return strings.ToUpper(clean(s.String())) }

func sizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return plural(int(n), "byte", "bytes")
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + suffix
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

func pad(s string, w int) string {
	if n := runeLen(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func truncate(s string, n int) string {
	if runeLen(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// clean makes untrusted text safe for one terminal line: invalid UTF-8,
// control characters (C0, DEL, C1: ANSI escapes, CR, newlines) and
// invisible formatting characters (bidi overrides, zero-width) are shown
// as Go escapes instead of acting on the terminal.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if unsafeRune(r) {
			ok = false
			break
		}
	}
	if ok && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) ||
		r == '\u2028' || r == '\u2029'
}
