// Package fairness computes group-fairness metrics over a model's
// predictions with the definitions of Fairlearn (fairlearn.metrics): per
// group counts, selection rate, accuracy, TPR, FPR, FNR, TNR, precision and
// ROC AUC (MetricFrame.by_group), their group_min, group_max, difference
// and ratio with the "between_groups" and "to_overall" methods, and the
// named disparities built on them (demographic parity, equalized odds,
// equal opportunity, disparate impact with the four-fifths rule).
// Intersections of several sensitive features are groups of their own, as
// in a MetricFrame given several sensitive features. Bootstrap confidence
// intervals are seeded and reproducible.
//
// The input is streamed once through a tabular.Source, reading only the
// label, prediction, score and sensitive columns; everything but ROC AUC
// is computed from per-group confusion counts, so memory does not grow
// with the number of rows (ROC AUC keeps one score per row).
package fairness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/tabular"
)

// Config says which columns hold what and how to judge the result.
type Config struct {
	Label string // true label column
	Pred  string // predicted label column
	Score string // optional score column (for ROC AUC)
	// Sensitive lists the sensitive feature columns; each is assessed on
	// its own, and their intersection too when Intersectional is set.
	Sensitive      []string
	Intersectional bool
	// Positive is the positive label ("1" by default). Values are compared
	// as numbers when both sides are numbers, so 1, 1.0 and True match.
	Positive string
	// Bootstrap is the number of bootstrap resamples (0: none); Seed makes
	// them reproducible; CILevel is the interval's coverage (0.95).
	Bootstrap int
	Seed      uint64
	CILevel   float64
	// Thresholds maps disparity names (DisparityNames) to limits: a
	// difference above its limit, or a ratio below it, is a finding.
	// Missing names take DefaultThresholds.
	Thresholds map[string]float64
	// Method is the MetricFrame method findings are judged on:
	// "between_groups" (default) or "to_overall".
	Method string
	// MinGroupSize flags groups with fewer rows (default 30; negative: off).
	MinGroupSize int64
	// MaxGroups bounds the groups of one view (default 10000), including
	// every combination of an intersection.
	MaxGroups int
	// Limits bound the reader.
	Limits tabular.Limits
}

// Methods of MetricFrame.difference and ratio.
const (
	BetweenGroups = "between_groups"
	ToOverall     = "to_overall"
)

// Disparity names.
const (
	DemographicParityDifference = "demographic_parity_difference"
	DemographicParityRatio      = "demographic_parity_ratio"
	EqualizedOddsDifference     = "equalized_odds_difference"
	EqualizedOddsRatio          = "equalized_odds_ratio"
	EqualOpportunityDifference  = "equal_opportunity_difference"
	EqualOpportunityRatio       = "equal_opportunity_ratio"
	DisparateImpactRatio        = "disparate_impact_ratio"
)

// DisparityNames lists the disparities in report order.
var DisparityNames = []string{
	DemographicParityDifference, DemographicParityRatio,
	EqualizedOddsDifference, EqualizedOddsRatio,
	EqualOpportunityDifference, EqualOpportunityRatio,
	DisparateImpactRatio,
}

// DefaultThresholds: 0.1 for differences, 0.8 (four fifths) for ratios.
func DefaultThresholds() map[string]float64 {
	return map[string]float64{
		DemographicParityDifference: 0.1, DemographicParityRatio: 0.8,
		EqualizedOddsDifference: 0.1, EqualizedOddsRatio: 0.8,
		EqualOpportunityDifference: 0.1, EqualOpportunityRatio: 0.8,
		DisparateImpactRatio: 0.8,
	}
}

// IsRatio reports whether a disparity is a ratio (1 is parity, smaller is
// worse) rather than a difference (0 is parity, larger is worse).
func IsRatio(name string) bool { return strings.HasSuffix(name, "_ratio") }

// Errors callers can test for.
var (
	ErrConfig    = errors.New("invalid fairness configuration")
	ErrNotBinary = errors.New("labels are not binary")
	ErrNoRows    = errors.New("no data rows")
)

// Result is a complete fairness assessment.
type Result struct {
	Input    Input              `json:"input"`
	Settings Settings           `json:"settings"`
	Overall  Group              `json:"overall"`
	Views    []View             `json:"views"`
	Findings []finding.Finding  `json:"findings"`
	Artifact finding.Artifact   `json:"-"`
	Duration time.Duration      `json:"-"`
	Started  time.Time          `json:"-"`
	Extra    map[string]float64 `json:"-"`
}

// Input describes the predictions file.
type Input struct {
	Path   string         `json:"path"`
	Format tabular.Format `json:"format"`
	Size   int64          `json:"size"`
	Rows   int64          `json:"rows"`
}

// Settings echo the configuration that produced a result.
type Settings struct {
	Label          string             `json:"label"`
	Pred           string             `json:"pred"`
	Score          string             `json:"score,omitempty"`
	Sensitive      []string           `json:"sensitive"`
	Intersectional bool               `json:"intersectional"`
	Positive       string             `json:"positive"`
	Method         string             `json:"method"`
	Bootstrap      int                `json:"bootstrap"`
	Seed           uint64             `json:"seed"`
	CILevel        float64            `json:"ci_level"`
	MinGroupSize   int64              `json:"min_group_size"`
	Thresholds     map[string]float64 `json:"thresholds"`
}

// View is the assessment over one sensitive feature, or over the
// intersection of several.
type View struct {
	Name     string   `json:"name"`
	Features []string `json:"features"`
	Groups   []Group  `json:"groups"`
	// Metrics holds MetricFrame's summaries per base metric.
	Metrics     map[string]Aggregate `json:"metrics"`
	Disparities []Disparity          `json:"disparities"`
}

// Group is one value (or combination of values) of the sensitive features.
type Group struct {
	Key       []string       `json:"key,omitempty"`
	Name      string         `json:"name"`
	Count     int64          `json:"count"`
	Positives int64          `json:"positives"`
	Negatives int64          `json:"negatives"`
	Confusion Confusion      `json:"confusion"`
	Metrics   map[string]Num `json:"metrics"`
	// DisparateImpact is this group's selection rate over the highest
	// group selection rate (the four-fifths rule's ratio).
	DisparateImpact *Num              `json:"disparate_impact,omitempty"`
	CI              map[string][2]Num `json:"ci,omitempty"`
}

// Disparity is one named fairness metric computed with one method.
type Disparity struct {
	Name      string  `json:"name"`
	Method    string  `json:"method"`
	Value     Num     `json:"value"`
	CI        *[2]Num `json:"ci,omitempty"`
	Threshold *Num    `json:"threshold,omitempty"`
	// Breach is true when the value is past its threshold (judged only on
	// the configured method).
	Breach bool `json:"breach"`
}

func (c *Config) normalize() error {
	if c.Label == "" || c.Pred == "" {
		return fmt.Errorf("%w: a label and a prediction column are required", ErrConfig)
	}
	if len(c.Sensitive) == 0 {
		return fmt.Errorf("%w: at least one sensitive column is required", ErrConfig)
	}
	seen := map[string]bool{}
	for _, s := range c.Sensitive {
		if s == "" || seen[s] {
			return fmt.Errorf("%w: sensitive column %q empty or repeated", ErrConfig, s)
		}
		seen[s] = true
	}
	if c.Positive == "" {
		c.Positive = "1"
	}
	if c.CILevel == 0 {
		c.CILevel = 0.95
	}
	if c.CILevel <= 0 || c.CILevel >= 1 {
		return fmt.Errorf("%w: confidence level %v not in (0, 1)", ErrConfig, c.CILevel)
	}
	if c.Bootstrap < 0 || c.Bootstrap > 100_000 {
		return fmt.Errorf("%w: bootstrap resamples %d not in [0, 100000]", ErrConfig, c.Bootstrap)
	}
	switch c.Method {
	case "":
		c.Method = BetweenGroups
	case BetweenGroups, ToOverall:
	default:
		return fmt.Errorf("%w: method %q (want between_groups or to_overall)", ErrConfig, c.Method)
	}
	th := DefaultThresholds()
	for k, v := range c.Thresholds {
		if _, ok := th[k]; !ok {
			return fmt.Errorf("%w: unknown threshold %q (known: %s)", ErrConfig, k, strings.Join(DisparityNames, ", "))
		}
		if math.IsNaN(v) || v < 0 {
			return fmt.Errorf("%w: threshold %s=%v", ErrConfig, k, v)
		}
		th[k] = v
	}
	c.Thresholds = th
	if c.MinGroupSize == 0 {
		c.MinGroupSize = 30
	}
	if c.MaxGroups <= 0 {
		c.MaxGroups = 10_000
	}
	return nil
}

// Analyze streams the source once and computes the assessment.
func Analyze(ctx context.Context, src *tabular.Source, cfg Config) (*Result, error) {
	start := time.Now()
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	acc, err := newAccumulator(cfg)
	if err != nil {
		return nil, err
	}
	cols := []string{cfg.Label, cfg.Pred}
	if cfg.Score != "" {
		cols = append(cols, cfg.Score)
	}
	cols = append(cols, cfg.Sensitive...)
	rows, err := src.Scan(ctx, cols, acc.add)
	if err != nil {
		var re *tabular.RowError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("%s: %w", src.Path(), err)
		}
		return nil, fmt.Errorf("read %s: %w", src.Path(), err)
	}
	res, err := acc.result(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Path(), err)
	}
	res.Input = Input{Path: src.Path(), Format: src.Format(), Size: src.Size(), Rows: rows}
	res.Artifact = finding.Artifact{Path: src.Path(), Size: src.Size(), Format: string(src.Format())}
	res.Findings = judge(res, cfg)
	res.Started = start
	res.Duration = time.Since(start)
	return res, nil
}

// FromConfusion computes an assessment from per-row-free inputs: the
// confusion counts of every combination of sensitive values. It is what
// Analyze does after reading, exposed for tests and for callers that have
// counts already. keys[i] holds one value per sensitive feature.
func FromConfusion(ctx context.Context, cfg Config, keys [][]string, counts []Confusion) (*Result, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	acc, err := newAccumulator(cfg)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if len(k) != len(cfg.Sensitive) {
			return nil, fmt.Errorf("%w: key %d has %d values for %d features", ErrConfig, i, len(k), len(cfg.Sensitive))
		}
		t := acc.tupleOf(k)
		acc.cells[t].add(counts[i])
	}
	res, err := acc.result(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		res.Input.Rows += c.N()
	}
	res.Findings = judge(res, cfg)
	return res, nil
}

// accumulator gathers confusion counts per combination of sensitive values.
type accumulator struct {
	cfg      Config
	labels   labelMap
	dicts    []map[string]int32 // per feature: value -> id
	values   [][]string         // per feature: id -> value
	tuples   map[string]int32   // packed ids -> tuple index
	tupleIDs [][]int32          // tuple index -> ids
	cells    []Confusion        // tuple index -> counts
	keyBuf   []byte
	ids      []int32
	scored   [][]scoredRow
	row      int64
	posCanon string
}

type scoredRow struct {
	score float64
	tuple int32
	pos   bool
}

func newAccumulator(cfg Config) (*accumulator, error) {
	a := &accumulator{cfg: cfg, tuples: map[string]int32{}, ids: make([]int32, len(cfg.Sensitive))}
	a.posCanon = canonicalText(cfg.Positive)
	a.labels = labelMap{byText: map[string]int8{}, byNum: map[float64]int8{}, pos: a.posCanon, classes: map[string]bool{}}
	for range cfg.Sensitive {
		a.dicts = append(a.dicts, map[string]int32{})
		a.values = append(a.values, nil)
	}
	return a, nil
}

// maxTuples bounds the distinct combinations kept while reading.
const maxTuples = 1_000_000

func (a *accumulator) tupleOf(vals []string) int32 {
	for f, v := range vals {
		a.ids[f] = a.valueID(f, []byte(v))
	}
	t, _ := a.tupleFor()
	return t
}

func (a *accumulator) valueID(f int, b []byte) int32 {
	d := a.dicts[f]
	if id, ok := d[string(b)]; ok {
		return id
	}
	id := int32(len(a.values[f]))
	s := string(b)
	d[s] = id
	a.values[f] = append(a.values[f], s)
	return id
}

func (a *accumulator) tupleFor() (int32, error) {
	a.keyBuf = a.keyBuf[:0]
	for _, id := range a.ids {
		a.keyBuf = append(a.keyBuf, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	if t, ok := a.tuples[string(a.keyBuf)]; ok {
		return t, nil
	}
	if len(a.tupleIDs) >= maxTuples {
		return 0, fmt.Errorf("more than %d combinations of sensitive values", maxTuples)
	}
	t := int32(len(a.tupleIDs))
	a.tuples[string(a.keyBuf)] = t
	a.tupleIDs = append(a.tupleIDs, append([]int32(nil), a.ids...))
	a.cells = append(a.cells, Confusion{})
	return t, nil
}

var errMissing = errors.New("missing value")

func (a *accumulator) add(row []tabular.Cell) error {
	a.row++
	y, err := a.labels.positive(row[0])
	if err != nil {
		return &tabular.RowError{Row: a.row, Err: fmt.Errorf("label column %q: %w", a.cfg.Label, err)}
	}
	p, err := a.labels.positive(row[1])
	if err != nil {
		return &tabular.RowError{Row: a.row, Err: fmt.Errorf("prediction column %q: %w", a.cfg.Pred, err)}
	}
	off := 2
	var score float64
	if a.cfg.Score != "" {
		v, ok := row[2].Float()
		if !ok || math.IsNaN(v) {
			return &tabular.RowError{Row: a.row, Err: fmt.Errorf("score column %q: %q is not a number", a.cfg.Score, row[2].String())}
		}
		score = v
		off = 3
	}
	for f := range a.cfg.Sensitive {
		c := row[off+f]
		if c.IsMissing() {
			return &tabular.RowError{Row: a.row, Err: fmt.Errorf("sensitive column %q: %w (fill it with an explicit category)", a.cfg.Sensitive[f], errMissing)}
		}
		if c.Kind == tabular.Text {
			a.ids[f] = a.valueID(f, c.Bytes)
		} else {
			a.ids[f] = a.valueID(f, []byte(c.String()))
		}
	}
	t, err := a.tupleFor()
	if err != nil {
		return &tabular.RowError{Row: a.row, Err: err}
	}
	c := &a.cells[t]
	switch {
	case y && p:
		c.TP++
	case y:
		c.FN++
	case p:
		c.FP++
	default:
		c.TN++
	}
	if a.cfg.Score != "" {
		if n := len(a.scored); n == 0 || len(a.scored[n-1]) == cap(a.scored[n-1]) {
			a.scored = append(a.scored, make([]scoredRow, 0, scoredChunk))
		}
		last := &a.scored[len(a.scored)-1]
		*last = append(*last, scoredRow{score: score, tuple: t, pos: y})
	}
	return nil
}

// labelMap turns label and prediction cells into positive / negative and
// checks, as Fairlearn does, that together they hold at most two values.
type labelMap struct {
	byText  map[string]int8 // raw text -> 1 positive, 0 negative
	byNum   map[float64]int8
	pos     string
	classes map[string]bool // canonical values seen
}

func (l *labelMap) positive(c tabular.Cell) (bool, error) {
	switch c.Kind {
	case tabular.Text:
		if v, ok := l.byText[string(c.Bytes)]; ok {
			return v == 1, nil
		}
		if c.IsMissing() {
			return false, errMissing
		}
		canon := canonicalText(string(c.Bytes))
		if err := l.see(canon, string(c.Bytes)); err != nil {
			return false, err
		}
		v := int8(0)
		if canon == l.pos {
			v = 1
		}
		l.byText[string(c.Bytes)] = v
		return v == 1, nil
	case tabular.Number, tabular.Bool:
		if v, ok := l.byNum[c.Num]; ok {
			return v == 1, nil
		}
		if math.IsNaN(c.Num) {
			return false, errMissing
		}
		canon := canonicalNum(c.Num)
		if err := l.see(canon, c.String()); err != nil {
			return false, err
		}
		v := int8(0)
		if canon == l.pos {
			v = 1
		}
		l.byNum[c.Num] = v
		return v == 1, nil
	}
	return false, errMissing
}

func (l *labelMap) see(canon, raw string) error {
	if l.classes[canon] {
		return nil
	}
	if len(l.classes) >= 2 {
		var have []string
		for k := range l.classes {
			have = append(have, k)
		}
		sort.Strings(have)
		return fmt.Errorf("%w: %q is a third value after %s (labels and predictions must be binary)", ErrNotBinary, raw, strings.Join(have, ", "))
	}
	l.classes[canon] = true
	return nil
}

// canonicalText maps spellings of one value together: numbers by value
// (1, 1.0, 1e0), and true/false as 1/0 (pandas reads them as booleans,
// and Python's True == 1).
func canonicalText(s string) string {
	t := strings.TrimSpace(s)
	switch t {
	case "true", "True", "TRUE":
		return "1"
	case "false", "False", "FALSE":
		return "0"
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return canonicalNum(f)
	}
	return t
}

func canonicalNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
