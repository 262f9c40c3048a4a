package pickle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// InspectOptions configure Inspect.
type InspectOptions struct {
	// Analysis options (allow-list extensions, strictness, limits).
	Options
	// JSON writes the Report as JSON instead of text.
	JSON bool
	// NoListing leaves out the opcode listing; NoProgram the decompiled
	// program.
	NoListing, NoProgram bool
	// MaxListing bounds the listed opcodes (default 100 000).
	MaxListing int
}

// ListedOp is one line of the opcode listing.
type ListedOp struct {
	Offset int64  `json:"offset"`
	Index  int    `json:"index"`
	Op     string `json:"op"`
	Arg    string `json:"arg,omitempty"`
	// Depth is the stack depth after the opcode.
	Depth int `json:"depth"`
	// Nest is 1+ inside a nested pickle (joblib object array, pickle.loads bytes).
	Nest int `json:"nest,omitempty"`
}

// Line is one line of the decompiled program.
type Line struct {
	Text string `json:"text"`
	// Rule and Severity are set on unsafe lines.
	Rule     string `json:"rule,omitempty"`
	Severity string `json:"severity,omitempty"`
	Note     string `json:"note,omitempty"`
	Offset   int64  `json:"offset"`
	Index    int    `json:"index"`
}

// Report is everything Inspect shows, JSON-friendly.
type Report struct {
	Format  string       `json:"format"`
	Pickles []PickleInfo `json:"pickles"`
	Imports []*Import    `json:"imports"`
	Issues  []Issue      `json:"issues"`
	Gaps    []string     `json:"gaps,omitempty"`
	Ops     []ListedOp   `json:"ops,omitempty"`
	// OpsOmitted counts opcodes beyond MaxListing.
	OpsOmitted int    `json:"ops_omitted,omitempty"`
	Program    []Line `json:"program,omitempty"`
}

// Disassemble lists the opcodes of every pickle in r (following joblib
// array data and nested pickles as the analysis does) and returns the
// analysis made on the way.
func Disassemble(ctx context.Context, r io.Reader, opts Options, max int) ([]ListedOp, int, *Analysis, error) {
	if max <= 0 {
		max = 100_000
	}
	var ops []ListedOp
	omitted := 0
	opts.onOp = func(op Op, depth, nest int) {
		if len(ops) >= max {
			omitted++
			return
		}
		ops = append(ops, ListedOp{Offset: op.Offset, Index: op.Index, Op: op.Name, Arg: FormatArg(op), Depth: depth, Nest: nest})
	}
	a, err := Analyze(ctx, r, opts)
	return ops, omitted, a, err
}

// InspectReport builds the Report Inspect renders, for callers that
// render it themselves.
func InspectReport(ctx context.Context, r io.Reader, opts InspectOptions) (*Report, error) {
	o := opts.Options
	o.keepCalls = !opts.NoProgram
	var (
		ops     []ListedOp
		omitted int
		a       *Analysis
		err     error
	)
	if opts.NoListing {
		a, err = Analyze(ctx, r, o)
	} else {
		ops, omitted, a, err = Disassemble(ctx, r, o, opts.MaxListing)
	}
	if a == nil {
		return nil, err
	}
	rep := &Report{Format: a.Format, Pickles: a.Pickles, Imports: a.Imports, Issues: a.Issues, Gaps: a.Gaps, Ops: ops, OpsOmitted: omitted}
	if !opts.NoProgram {
		rep.Program = decompile(a)
	}
	if rep.Imports == nil {
		rep.Imports = []*Import{}
	}
	if rep.Issues == nil {
		rep.Issues = []Issue{}
	}
	return rep, err
}

// Inspect writes what the pickle stream r would do, for an analyst: the
// opcode listing and the reconstructed program as pseudo-Python with the
// unsafe lines marked, then the issues and gaps. Text by default, JSON
// with opts.JSON.
func Inspect(ctx context.Context, r io.Reader, w io.Writer, opts InspectOptions) error {
	rep, err := InspectReport(ctx, r, opts)
	if rep == nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			return fmt.Errorf("write report: %w", werr)
		}
		return err
	}
	if werr := rep.WriteText(w); werr != nil {
		return fmt.Errorf("write report: %w", werr)
	}
	return err
}

// WriteText renders the report for people.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "format: %s, %d pickle(s)\n", rep.Format, len(rep.Pickles))
	if len(rep.Ops) > 0 {
		b.WriteString("\n== opcodes (offset  index  depth  opcode  argument)\n")
		for _, op := range rep.Ops {
			indent := strings.Repeat("  ", op.Nest)
			fmt.Fprintf(&b, "%8d %6d %5d  %s%-16s %s\n", op.Offset, op.Index, op.Depth, indent, op.Op, op.Arg)
		}
		if rep.OpsOmitted > 0 {
			fmt.Fprintf(&b, "... %d more opcodes not listed\n", rep.OpsOmitted)
		}
	}
	if len(rep.Program) > 0 {
		b.WriteString("\n== program\n")
		for _, l := range rep.Program {
			b.WriteString(l.Text)
			switch {
			case l.Rule != "":
				fmt.Fprintf(&b, "  # UNSAFE: %s (%s) %s", l.Rule, l.Severity, l.Note)
			case l.Note != "":
				fmt.Fprintf(&b, "  # %s", l.Note)
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n== issues\n")
	if len(rep.Issues) == 0 {
		b.WriteString("none\n")
	}
	for _, is := range rep.Issues {
		fmt.Fprintf(&b, "%-8s %s  offset %d, opcode #%d %s: %s\n         %s\n", is.Severity, is.RuleID, is.Offset, is.Index, is.Opcode, is.Title, is.Evidence)
	}
	for _, g := range rep.Gaps {
		fmt.Fprintf(&b, "INCONCLUSIVE: %s\n", g)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatArg renders an opcode argument like pickletools does.
func FormatArg(op Op) string {
	switch x := op.Arg.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case *big.Int:
		return formatBig(x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return pyFloat(x)
	case string:
		return pyRepr(&Str{S: x, Kind: "str", Truncated: op.Truncated}, 80)
	case []byte:
		return pyRepr(&Str{S: string(x), Kind: "bytes", Truncated: op.Truncated}, 80)
	case GlobalRef:
		return fmt.Sprintf("%q %q", x.Module, x.Name)
	}
	return fmt.Sprint(op.Arg)
}

// decompile renders the reconstructed program of an analysis made by
// InspectReport (which records the calls) as pseudo-Python in the style of
// fickling:
//
//	from posix import system
//	_var0 = system('true')  # UNSAFE: MLS-PKL-001 ...
//	result = _var0
func decompile(a *Analysis) []Line {
	dc := &decompiler{a: a, names: map[*Call]string{}, imported: map[string]string{}, used: map[string]bool{}, suffix: map[string]int{}}
	return dc.run()
}

type decompiler struct {
	a        *Analysis
	names    map[*Call]string
	imported map[string]string // global path -> local name
	used     map[string]bool
	suffix   map[string]int
	lines    []Line
	pending  []Line
	nest     string
	results  int
}

func (dc *decompiler) globalName(g *Global) string {
	key := g.Module + "\x00" + g.Name
	if n, ok := dc.imported[key]; ok {
		return n
	}
	var local, text string
	switch {
	case !identRe.MatchString(g.Module) || !identRe.MatchString(g.Name):
		local = fmt.Sprintf("_import(%s, %s)", quotePy(g.Module), quotePy(g.Name))
	case isIdent(g.Name):
		local = g.Name
		for dc.used[local] {
			dc.suffix[g.Name]++
			local = fmt.Sprintf("%s_%d", g.Name, dc.suffix[g.Name])
		}
		if local == g.Name {
			text = fmt.Sprintf("from %s import %s", g.Module, g.Name)
		} else {
			text = fmt.Sprintf("from %s import %s as %s", g.Module, g.Name, local)
		}
		dc.used[local] = true
	default:
		local = g.Module + "." + g.Name
		text = "import " + g.Module
	}
	dc.imported[key] = local
	if text != "" {
		l := Line{Text: text, Offset: g.Op.Offset, Index: g.Op.Index}
		dc.mark(&l, g.Op.Offset, "")
		dc.pending = append(dc.pending, l)
	}
	return local
}

func quotePy(s string) string { return pyRepr(&Str{S: s, Kind: "str"}, 200) }

func (dc *decompiler) render(v Value) string {
	r := renderer{max: 1000, global: dc.globalName, name: func(c *Call) string { return dc.names[c] }}
	return r.render(v)
}

// mark sets the unsafe annotation of a line from the issue at offset.
func (dc *decompiler) mark(l *Line, offset int64, nest string) {
	for _, is := range dc.a.Issues {
		if is.Offset == offset && is.Nested == nest {
			l.Rule, l.Severity, l.Note = is.RuleID, is.Severity.String(), is.Title
			return
		}
	}
}

func (dc *decompiler) emit(l Line) {
	dc.lines = append(dc.lines, dc.pending...)
	dc.pending = dc.pending[:0]
	dc.lines = append(dc.lines, l)
}

func (dc *decompiler) run() []Line {
	for _, e := range dc.a.events {
		if e.nest != dc.nest {
			dc.nest = e.nest
			if e.nest != "" {
				dc.emit(Line{Text: "# nested pickle: " + e.nest, Offset: e.op.Offset, Index: e.op.Index})
			}
		}
		switch e.kind {
		case evCall:
			r := renderer{max: 1000, global: dc.globalName, name: func(c *Call) string {
				if c == e.call {
					return ""
				}
				return dc.names[c]
			}}
			var b strings.Builder
			r.writeCall(&b, e.call, 0)
			name := fmt.Sprintf("_var%d", len(dc.names))
			dc.names[e.call] = name
			l := Line{Text: name + " = " + b.String(), Offset: e.op.Offset, Index: e.op.Index}
			dc.mark(&l, e.op.Offset, e.nest)
			dc.emit(l)
		case evBuild:
			l := Line{Text: fmt.Sprintf("%s.__setstate__(%s)", dc.render(e.target), dc.render(e.value)), Offset: e.op.Offset, Index: e.op.Index}
			dc.mark(&l, e.op.Offset, e.nest)
			if c, ok := e.target.(*Call); ok && c.Array {
				l.Note = "joblib array data follows in the stream"
			}
			dc.emit(l)
		case evStop:
			name := "result"
			switch {
			case e.nest != "":
				name = "nested_result"
			case dc.results > 0:
				name = fmt.Sprintf("result%d", dc.results)
			}
			if e.nest == "" {
				dc.results++
			}
			dc.emit(Line{Text: name + " = " + dc.render(e.value), Offset: e.op.Offset, Index: e.op.Index})
		}
	}
	dc.lines = append(dc.lines, dc.pending...)
	return dc.lines
}
