// Package data finds personal data in tabular data files: CSV, TSV, JSON
// Lines and Parquet. It reads a bounded sample of rows (the head of the
// file plus evenly spaced stripes through the rest; for Parquet, the first
// rows of evenly spaced row groups, only the string and integer columns),
// classifies every sampled value with package pii, and reports each column
// that holds personal data with its name and match counts. Values are never
// reported.
package data

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/pii"
	"github.com/mlsec/mlsec/internal/scan"
)

// Rules reported by this package.
var (
	RuleValues = finding.MustRegister(finding.Rule{
		ID: "MLS-DATA-001", Name: "DataColumnHoldsPersonalData",
		Title:    "Data file column holds personal data",
		Severity: finding.Medium,
		Summary: "Sampled values of a column are personal data: e-mail addresses, telephone numbers, " +
			"payment card numbers (Luhn-checked), IBANs (mod-97-checked), national identifiers (US SSN, UK " +
			"NINO, Aadhaar, Spanish DNI/NIE) or public IP addresses. Card numbers, IBANs and national " +
			"identifiers raise it to high. Models trained on such data can memorise and leak it.",
		Doc: "The scanner reads a bounded sample (the file's head and evenly spaced stripes, or the first " +
			"rows of spaced Parquet row groups) and reports, per column, how many sampled values matched " +
			"each kind. Values are never reported.",
		Remediation: "Drop or pseudonymise the column before training or sharing the data set, record a " +
			"legal basis for processing it, and keep it out of model repositories.",
		References: []finding.Reference{finding.CWE(359), finding.CWE(312), finding.ATLAS("AML.T0037"), finding.OWASPML("ML03")},
	})
	RuleHeader = finding.MustRegister(finding.Rule{
		ID: "MLS-DATA-002", Name: "DataColumnNamedPersonal",
		Title:    "Data file column is named like personal data",
		Severity: finding.Low,
		Summary: "A column's name announces personal data (name, address, date of birth, passport, e-mail, " +
			"phone …) although no sampled value matched a value pattern (names and addresses have none).",
		Remediation: "Check the column's content; drop or pseudonymise it if it identifies people.",
		References:  []finding.Reference{finding.CWE(359), finding.ATLAS("AML.T0037"), finding.OWASPML("ML04")},
	})
)

// Limits bound the sample.
type Limits struct {
	// HeadRows are read from the start; Stripes × StripeRows from evenly
	// spaced offsets of larger files.
	HeadRows, Stripes, StripeRows int
	// MaxRecord is the longest text record (line) accepted.
	MaxRecord int
	// MaxColumns caps the columns tracked.
	MaxColumns int
	// MaxParquetFooter and MaxParquetChunk bound the Parquet metadata and
	// the uncompressed size of a column chunk that is read.
	MaxParquetFooter int64
	MaxParquetChunk  int64
}

// DefaultLimits sample about 12,000 rows.
func DefaultLimits() Limits {
	return Limits{HeadRows: 8192, Stripes: 8, StripeRows: 512, MaxRecord: 16 << 20, MaxColumns: 4096,
		MaxParquetFooter: 64 << 20, MaxParquetChunk: 512 << 20}
}

// Scanner is the "data" scanner.
type Scanner struct{ lim Limits }

// New returns the data scanner with default limits.
func New() *Scanner { return &Scanner{lim: DefaultLimits()} }

// NewWithLimits returns a data scanner with the given limits.
func NewWithLimits(l Limits) *Scanner { return &Scanner{lim: l} }

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "data" }

var textExts = map[string]string{".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".psv": "csv",
	".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonlines": "jsonl"}

// kindOf decides the format from content (Parquet magic) or from the name
// plus a content check (text without NULs; JSON Lines starting with '{').
func kindOf(f scan.FileInfo) string {
	if len(f.Head) >= 4 && string(f.Head[:4]) == "PAR1" {
		return "parquet"
	}
	k := textExts[f.Ext()]
	if k == "" || len(f.Head) == 0 || bytes.IndexByte(f.Head, 0) >= 0 {
		return ""
	}
	if k == "jsonl" {
		t := bytes.TrimLeft(bytes.TrimPrefix(f.Head, []byte("\xef\xbb\xbf")), " \t\r\n")
		if len(t) == 0 || t[0] != '{' {
			return ""
		}
	}
	return k
}

// Match implements scan.Scanner.
func (*Scanner) Match(f scan.FileInfo) bool { return kindOf(f) != "" }

// Scan implements scan.Scanner.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (res scan.Result, err error) {
	kind := kindOf(in.FileInfo)
	res = scan.NewResult(kind)
	t := newTable(s.lim.MaxColumns)
	switch kind {
	case "parquet":
		err = sampleParquet(ctx, in.R, in.Size, s.lim, t)
	case "jsonl":
		err = sampleJSONL(ctx, in.R, in.Size, s.lim, t)
	default:
		err = sampleDelimited(ctx, in.R, in.Size, kind, in.Name, s.lim, t)
	}
	report(in, t, &res)
	if t.dropped > 0 {
		res.Gap("%s: more than %d columns; %d were not sampled", in.Name, s.lim.MaxColumns, t.dropped)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", kind, err)
	}
	return res, nil
}

// column accumulates what the sample says about one column.
type column struct {
	name    string
	index   int
	sampled int
	counts  map[pii.Kind]int
}

type table struct {
	cols    []*column
	byName  map[string]*column
	max     int
	dropped int
	rows    int
}

func newTable(max int) *table { return &table{byName: map[string]*column{}, max: max} }

func (t *table) col(name string) *column {
	if c := t.byName[name]; c != nil {
		return c
	}
	if len(t.cols) >= t.max {
		if t.byName["\x00dropped:"+name] == nil {
			t.dropped++
			t.byName["\x00dropped:"+name] = &column{}
		}
		return nil
	}
	c := &column{name: name, index: len(t.cols), counts: map[pii.Kind]int{}}
	t.cols = append(t.cols, c)
	t.byName[name] = c
	return c
}

// longText is the length from which a value that is not itself personal
// data is searched for personal data inside it (free-text columns).
const longText = 24

func (c *column) add(v string) {
	if c == nil {
		return
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	c.sampled++
	if k := pii.Classify(v); k != "" {
		c.counts[k]++
		return
	}
	if len(v) >= longText {
		seen := map[pii.Kind]bool{}
		for _, m := range pii.Find(v) {
			if !seen[m.Kind] {
				seen[m.Kind] = true
				c.counts[m.Kind]++
			}
		}
	}
}

func report(in *scan.Input, t *table, res *scan.Result) {
	for _, c := range t.cols {
		if c.sampled == 0 {
			continue
		}
		hint := pii.HeaderKind(c.name)
		loc := in.Location()
		loc.Pointer = "/columns/" + strings.ReplaceAll(strings.ReplaceAll(c.name, "~", "~0"), "/", "~1")
		fields := map[string]any{"column": c.name, "column_index": c.index, "sampled_values": c.sampled,
			"sampled_rows": t.rows}
		if hint != "" {
			fields["header_kind"] = string(hint)
		}
		if len(c.counts) == 0 {
			if hint == "" {
				continue
			}
			f := in.NewFinding(RuleHeader)
			f.Location = loc
			f.Evidence = finding.Evidence{
				Text: fmt.Sprintf("column %q (#%d) is named like %s; %d values sampled, none matched a value pattern",
					c.name, c.index+1, hint, c.sampled),
				Fields: fields,
			}
			res.Add(f)
			continue
		}
		kinds := make([]pii.Kind, 0, len(c.counts))
		for k := range c.counts {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool {
			if c.counts[kinds[i]] != c.counts[kinds[j]] {
				return c.counts[kinds[i]] > c.counts[kinds[j]]
			}
			return kinds[i] < kinds[j]
		})
		f := in.NewFinding(RuleValues)
		matches := map[string]int{}
		var parts []string
		for _, k := range kinds {
			matches[string(k)] = c.counts[k]
			parts = append(parts, fmt.Sprintf("%s in %d", k, c.counts[k]))
			if pii.Sensitive(k) {
				f.Severity = finding.High
			}
		}
		fields["matches"] = matches
		f.Location = loc
		text := fmt.Sprintf("column %q (#%d): %s of %d sampled values", c.name, c.index+1, strings.Join(parts, ", "), c.sampled)
		if hint != "" {
			text += fmt.Sprintf("; named like %s", hint)
		}
		f.Evidence = finding.Evidence{Text: text + " (values redacted)", Fields: fields}
		res.Add(f)
	}
}
