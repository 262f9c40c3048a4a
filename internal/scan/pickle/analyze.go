package pickle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

// Limits bound one analysis. Zero fields take the defaults.
type Limits struct {
	// MaxOps is the most opcodes decoded from one stream (all pickles).
	MaxOps int
	// MaxKeep is the most bytes kept of one string or bytes argument; the
	// rest is skipped without being buffered.
	MaxKeep int64
	// MaxKeptTotal: once this many argument bytes are kept, further
	// arguments keep only 4 KiB.
	MaxKeptTotal int64
	// MaxStack is the deepest the value stack may grow.
	MaxStack int
	// MaxMarks is the deepest the mark stack may grow.
	MaxMarks int
	// MaxMemo is the most memo entries.
	MaxMemo int
	// MaxPickles is the most pickles read from one stream.
	MaxPickles int
	// MaxNesting bounds pickles inside pickles (joblib object arrays,
	// bytes passed to pickle.loads).
	MaxNesting int
}

// DefaultLimits are generous for real models and bounded for hostile ones.
func DefaultLimits() Limits {
	return Limits{
		MaxOps:       10_000_000,
		MaxKeep:      1 << 20,
		MaxKeptTotal: 64 << 20,
		MaxStack:     1 << 20,
		MaxMarks:     1 << 16,
		MaxMemo:      1 << 20,
		MaxPickles:   4096,
		MaxNesting:   4,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxOps > 0 {
		d.MaxOps = l.MaxOps
	}
	if l.MaxKeep > 0 {
		d.MaxKeep = l.MaxKeep
	}
	if l.MaxKeptTotal > 0 {
		d.MaxKeptTotal = l.MaxKeptTotal
	}
	if l.MaxStack > 0 {
		d.MaxStack = l.MaxStack
	}
	if l.MaxMarks > 0 {
		d.MaxMarks = l.MaxMarks
	}
	if l.MaxMemo > 0 {
		d.MaxMemo = l.MaxMemo
	}
	if l.MaxPickles > 0 {
		d.MaxPickles = l.MaxPickles
	}
	if l.MaxNesting > 0 {
		d.MaxNesting = l.MaxNesting
	}
	return d
}

// Options configure an analysis.
type Options struct {
	// ExtraSafe extends the allow-list: "module.name" or "module.*".
	ExtraSafe []string
	// Strict raises unaudited imports from medium to high.
	Strict bool
	Limits Limits
	// Pickles, when > 0, stops after that many pickles and leaves the rest
	// of the stream to the caller (legacy PyTorch files: a fixed number of
	// pickles followed by raw storages).
	Pickles int
	// TrailingOK: bytes after the last complete pickle are expected (the
	// caller handles them) and are not a coverage gap.
	TrailingOK bool
	// BaseOffset is added to byte offsets in findings made by ScanReader
	// (a pickle that starts inside a member, e.g. after a .npy header).
	BaseOffset int64

	// onOp, when set, sees every opcode with the stack depth after it and
	// the nesting level (0 for the outer stream).
	onOp func(op Op, depth, nest int)
	// keepCalls records every call for the decompiler.
	keepCalls bool
	// policy overrides ExtraSafe (reuse across calls).
	policy *Policy
}

// Analysis is what the symbolic machine learnt from one stream.
type Analysis struct {
	// Format is "pickle", or "joblib", "dill", "cloudpickle" when their
	// globals were seen.
	Format string `json:"format"`
	// Pickles lists each pickle of the stream (nested ones too).
	Pickles []PickleInfo `json:"pickles"`
	// Imports lists each distinct global, first occurrence.
	Imports []*Import `json:"imports"`
	// Issues are the security-relevant facts, most severe first after
	// Sort.
	Issues []Issue `json:"issues"`
	// Gaps are what could not be analysed; any gap makes the result
	// inconclusive.
	Gaps []string `json:"gaps,omitempty"`
	// Ops counts decoded opcodes.
	Ops int `json:"ops"`
	// End is the offset where decoding stopped (the end of the last
	// complete pickle when Options.Pickles stopped it early).
	End int64 `json:"end"`
	// Trailing is how many bytes followed the last complete pickle and were
	// not a pickle.
	Trailing int64 `json:"trailing,omitempty"`
	// Calls lists every call when the analysis was made for Inspect.
	Calls []*Call `json:"-"`

	imports map[importKey]*Import
	events  []event
}

// PickleInfo describes one pickle of a stream.
type PickleInfo struct {
	Offset   int64  `json:"offset"`
	End      int64  `json:"end"`
	Protocol int    `json:"protocol"`
	Ops      int    `json:"ops"`
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`
	// Nested says where a nested pickle came from ("" for top level).
	Nested string `json:"nested,omitempty"`
	// Result is the value STOP returned.
	Result Value `json:"-"`
}

// Import is one distinct global the stream imports.
type Import struct {
	Module  string  `json:"module"`
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	Offset  int64   `json:"offset"`
	Index   int     `json:"index"`
	Count   int     `json:"count"`
	// Nested is set for imports of nested pickles.
	Nested string `json:"nested,omitempty"`

	reported bool
	path     string
	// firstUse is the first call that used the global, rendered.
	firstUse string
	useOp    *Op
}

// Path is "module.name".
func (im *Import) Path() string { return im.Module + "." + im.Name }

// Issue is one security-relevant fact, ready to become a finding.
type Issue struct {
	Rule     *finding.Rule    `json:"-"`
	RuleID   string           `json:"rule_id"`
	Severity finding.Severity `json:"severity"`
	Title    string           `json:"title"`
	// Evidence is the call as it would run, as Python.
	Evidence string `json:"evidence"`
	// Global is the dangerous global involved, if any.
	Global string `json:"global,omitempty"`
	Offset int64  `json:"offset"`
	Index  int    `json:"index"`
	Opcode string `json:"opcode"`
	Nested string `json:"nested,omitempty"`
}

// Analyze runs the symbolic machine over every pickle in r. It never
// executes anything. The error is non-nil only for I/O failures and
// context cancellation; malformed pickles and limits become Gaps, and
// whatever was found before them is kept.
func Analyze(ctx context.Context, r io.Reader, opts Options) (*Analysis, error) {
	lim := opts.Limits.withDefaults()
	pol := opts.policy
	if pol == nil {
		pol = NewPolicy(opts.ExtraSafe)
	}
	a := &Analysis{Format: "pickle", imports: map[importKey]*Import{}}
	an := &analyzer{a: a, pol: pol, opts: &opts, lim: &lim, ctx: ctx}
	d := newDecoder(r, &lim)
	err := an.stream(d, 0, "")
	a.finish(opts.Strict)
	return a, err
}

// AnalyzeBytes is Analyze over a byte slice.
func AnalyzeBytes(ctx context.Context, b []byte, opts Options) (*Analysis, error) {
	return Analyze(ctx, bytes.NewReader(b), opts)
}

// Complete reports whether the whole stream was analysed.
func (a *Analysis) Complete() bool { return len(a.Gaps) == 0 }

// Highest returns the most severe issue's severity and whether any exists.
func (a *Analysis) Highest() (finding.Severity, bool) {
	var h finding.Severity
	for _, is := range a.Issues {
		if is.Severity > h {
			h = is.Severity
		}
	}
	return h, len(a.Issues) > 0
}

// Findings maps the issues to findings. member locates the stream inside
// the artifact ("" for the file itself); base is added to byte offsets
// (for a pickle embedded in a bigger member, e.g. after a .npy header).
func (a *Analysis) Findings(art finding.Artifact, member string, base int64) []finding.Finding {
	out := make([]finding.Finding, 0, len(a.Issues))
	for _, is := range a.Issues {
		loc := finding.Location{Member: member}.AtOpcode(base+is.Offset, is.Index)
		f := finding.New(is.Rule, art, loc)
		f.Severity = is.Severity
		f.Title = is.Title
		fields := map[string]any{"opcode": is.Opcode, "format": a.Format}
		if is.Global != "" {
			fields["global"] = is.Global
		}
		if is.Nested != "" {
			fields["nested"] = is.Nested
		}
		f.Evidence = finding.Evidence{Text: is.Evidence, Fields: fields}
		out = append(out, f)
	}
	return out
}

// Apply adds the analysis' findings and gaps to res. Gaps are prefixed
// with what (the member or file name) when it is not empty.
func (a *Analysis) Apply(res *scan.Result, art finding.Artifact, member string, base int64, what string) {
	res.Add(a.Findings(art, member, base)...)
	for _, g := range a.Gaps {
		if what != "" {
			res.Gap("%s: %s", what, g)
		} else {
			res.Gap("%s", g)
		}
	}
}

// ScanReader analyses the pickle stream r that belongs to in (as member
// when not empty) and returns the result for the caller to merge: the
// entry point for other format scanners (PyTorch zip members, NumPy object
// arrays).
func ScanReader(ctx context.Context, in *scan.Input, member string, r io.Reader, opts Options) (scan.Result, *Analysis) {
	res := scan.NewResult("pickle")
	loc := in.Member
	if member != "" {
		loc = in.MemberPath(member)
	}
	a, err := Analyze(ctx, r, opts)
	res.Format = a.Format
	what := loc
	if what == "" {
		what = in.Name
	}
	a.Apply(&res, in.Artifact, loc, opts.BaseOffset, what)
	if err != nil {
		res.Gap("%s: %v", what, err)
	}
	return res, a
}

func (a *Analysis) gap(format string, args ...any) {
	if len(a.Gaps) < 32 {
		a.Gaps = append(a.Gaps, fmt.Sprintf(format, args...))
	}
}

// issue records an issue; identical ones (rule, global, op) are folded.
func (a *Analysis) issue(is Issue) {
	is.RuleID = is.Rule.ID
	if is.Title == "" {
		is.Title = is.Rule.Title
	}
	for _, old := range a.Issues {
		if old.RuleID == is.RuleID && old.Offset == is.Offset && old.Nested == is.Nested && old.Global == is.Global {
			return
		}
	}
	if len(a.Issues) >= 256 {
		return
	}
	a.Issues = append(a.Issues, is)
}

// finish turns the remaining imports into issues.
func (a *Analysis) finish(strict bool) {
	for _, im := range a.Imports {
		if im.reported {
			continue
		}
		ev, off, idx, opName := "import "+im.Path(), im.Offset, im.Index, "GLOBAL"
		if im.firstUse != "" {
			ev, off, idx, opName = im.firstUse, im.useOp.Offset, im.useOp.Index, im.useOp.Name
		}
		switch im.Verdict {
		case Dangerous:
			a.issue(Issue{Rule: RuleDangerous, Severity: finding.Critical, Title: "Pickle imports dangerous global " + im.Path(),
				Evidence: ev + "  # " + im.Reason, Global: im.Path(), Offset: off, Index: idx, Opcode: opName, Nested: im.Nested})
		case Code:
			a.issue(Issue{Rule: RuleCode, Severity: finding.High, Title: "Pickle rebuilds code with " + im.Path(),
				Evidence: ev, Global: im.Path(), Offset: off, Index: idx, Opcode: opName, Nested: im.Nested})
		case Unaudited:
			sev := finding.Medium
			if strict {
				sev = finding.High
			}
			a.issue(Issue{Rule: RuleUnaudited, Severity: sev, Title: "Pickle imports unaudited global " + im.Path(),
				Evidence: ev, Global: im.Path(), Offset: off, Index: idx, Opcode: opName, Nested: im.Nested})
		}
	}
	sortIssues(a.Issues)
}

func sortIssues(is []Issue) {
	// Insertion sort: few issues, stable, most severe first then by offset.
	for i := 1; i < len(is); i++ {
		for j := i; j > 0; j-- {
			a, b := is[j-1], is[j]
			if a.Severity > b.Severity || (a.Severity == b.Severity && a.Offset <= b.Offset) {
				break
			}
			is[j-1], is[j] = b, a
		}
	}
}

// analyzer holds what is shared by the machines of one stream.
type analyzer struct {
	a      *Analysis
	pol    *Policy
	opts   *Options
	lim    *Limits
	ctx    context.Context
	callID int
	// anchor is the call whose bytes argument is being analysed as a
	// nested pickle.
	anchor *Op
}

// errStop ends a pickle normally.
var errStop = errors.New("STOP")

// limitError is a limit that was hit.
type limitError struct{ what string }

func (e *limitError) Error() string { return "limit exceeded: " + e.what }

// stream analyses pickles from d until the stream ends.
func (an *analyzer) stream(d *decoder, nest int, label string) error {
	a := an.a
	count := 0
	legacy := false
	for {
		if err := an.ctx.Err(); err != nil {
			return err
		}
		if an.opts.Pickles > 0 && nest == 0 && count >= an.opts.Pickles {
			a.End = d.off
			return nil
		}
		if d.atEOF() {
			if count == 0 && nest == 0 {
				a.gap("empty stream: no pickle")
			}
			a.End = d.off
			return nil
		}
		if count >= an.lim.MaxPickles {
			a.gap("stopped after %d pickles at offset %d (limit)", count, d.off)
			return nil
		}
		start := d.off
		m := newMachine(an, d, nest, label)
		err := m.run()
		info := PickleInfo{Offset: start, End: d.off, Protocol: m.proto, Ops: m.ops, Nested: label, Result: m.result}
		if err == nil {
			info.Complete = true
			a.Pickles = append(a.Pickles, info)
			count++
			a.End = d.off
			if count == 1 && nest == 0 && isLegacyTorchMagic(m.result) {
				// Legacy torch.save: magic, protocol, sys info, the object and
				// the storage keys are pickles; raw storage bytes follow and
				// are never unpickled.
				a.Format = "pytorch-legacy"
				legacy = true
			}
			if legacy && count == 5 {
				a.End = d.off
				n, _, rerr := drain(d)
				a.Trailing = n
				return rerr
			}
			continue
		}
		info.Error = err.Error()
		a.Pickles = append(a.Pickles, info)
		a.End = d.off
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		var lerr *limitError
		switch {
		case errors.As(err, &lerr):
			a.gap("pickle at offset %d: %v", start, err)
		case count > 0 && nest == 0 && m.imports == 0 && m.calls == 0:
			// Bytes after a complete pickle that are not a pickle.
			a.Pickles = a.Pickles[:len(a.Pickles)-1]
			_, junk, rerr := drain(d)
			a.Trailing = d.off - start
			if rerr != nil {
				return rerr
			}
			if m.ops > 0 || d.badAt != start || !isPadding(d.badByte) {
				// Only an invalid padding byte right at the start means the
				// failed "pickle" was padding.
				junk = true
			}
			if junk && !an.opts.TrailingOK {
				a.gap("%d bytes of non-pickle data after the pickle ending at offset %d", a.Trailing, start)
			}
		case errors.Is(err, ErrTruncated):
			a.gap("pickle at offset %d is truncated after %d opcodes (no STOP)", start, m.ops)
		default:
			a.gap("pickle at offset %d is invalid after %d opcodes: %v", start, m.ops, err)
		}
		return nil
	}
}

func isPadding(c byte) bool { return c == 0 || c == '\n' || c == '\r' || c == ' ' || c == '\t' }

// drain reads the rest of the stream and reports whether any byte is
// more than zero padding or whitespace.
func drain(d *decoder) (int64, bool, error) {
	var n int64
	junk := false
	buf := make([]byte, 32<<10)
	for {
		k, err := d.r.Read(buf)
		for _, c := range buf[:k] {
			if !isPadding(c) {
				junk = true
			}
		}
		n += int64(k)
		d.off += int64(k)
		if err == io.EOF {
			return n, junk, nil
		}
		if err != nil {
			return n, junk, err
		}
	}
}

// loaderGlobals unpickle their bytes argument: the bytes are analysed as a
// nested pickle so the evidence shows what they would do.
var loaderGlobals = map[string]bool{
	"pickle.loads": true, "_pickle.loads": true, "pickle._loads": true, "dill.loads": true,
	"dill._dill.loads": true, "cloudpickle.loads": true, "numpy.loads": true, "cPickle.loads": true,
	"numpy.core.multiarray.loads": true, "joblib.numpy_pickle.loads": true,
	// torch.load of bytes: analysed when they are a legacy (pickle) stream.
	"torch.storage._load_from_bytes": true,
}

func nestedLabel(label, what string) string {
	if label == "" {
		return what
	}
	return label + " > " + what
}

// describe renders a value for evidence (calls inline).
func describe(v Value) string {
	r := renderer{max: 300, strMax: 64}
	s := r.render(v)
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return strings.ReplaceAll(s, "\n", `\n`)
}

// legacyTorchMagic is torch.serialization.MAGIC_NUMBER.
var legacyTorchMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

func isLegacyTorchMagic(v Value) bool {
	i, ok := v.(*Int)
	return ok && i.Big != nil && i.Big.Cmp(legacyTorchMagic) == 0
}
