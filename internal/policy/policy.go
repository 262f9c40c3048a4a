// Package policy decides whether a model may ship: it evaluates Rego
// policies (Open Policy Agent's Go rego package, prepared once and then
// evaluated per model) over one input document that gathers the evidence
// about a model — its scan, its signature, its ledger history (training
// attestations, waivers), its BOM, fairness and robustness reports.
//
// The built-in pack (builtin/*.rego, embedded) has one package per rule
// under data.mlsec.rules; each contributes `deny` and `warn` entries
// ({rule, severity, msg, finding_rule?}). data.mlsec.decision gathers them,
// moves denials covered by an active waiver aside and says whether the
// model is allowed. User policies add packages of their own; a user module
// whose package equals a built-in package replaces that built-in module.
package policy

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"
)

//go:embed builtin/*.rego
var builtinFS embed.FS

// DecisionQuery is the query the engine prepares.
const DecisionQuery = "data.mlsec.decision"

// ErrPolicy reports policies that do not load or compile.
var ErrPolicy = errors.New("invalid policy")

// Violation is one deny, warn or waived entry.
type Violation struct {
	Rule        string       `json:"rule"`
	Severity    string       `json:"severity"`
	Message     string       `json:"msg"`
	Policy      string       `json:"policy"`
	FindingRule string       `json:"finding_rule,omitempty"`
	Where       string       `json:"where,omitempty"`
	Waiver      *Waiver      `json:"waiver,omitempty"`
	Controls    []ControlRef `json:"controls,omitempty"`
}

// ControlRef names a framework control a violated rule bears on.
type ControlRef struct {
	Framework string `json:"framework"`
	ID        string `json:"id"`
	Title     string `json:"title,omitempty"`
}

// Decision is the outcome of evaluating the policies over one input.
type Decision struct {
	Allow  bool        `json:"allow"`
	Deny   []Violation `json:"deny"`
	Warn   []Violation `json:"warn"`
	Waived []Violation `json:"waived"`
}

// Module is one Rego source file.
type Module struct {
	Name    string // file name, for messages
	Package string // e.g. "mlsec.rules.signature"
	Source  string
	Builtin bool
	parsed  *ast.Module
}

// Engine holds the compiled policies and the prepared decision query. It
// is safe for concurrent use.
type Engine struct {
	modules  []Module
	data     map[string]any
	prepared rego.PreparedEvalQuery
	controls func(ruleIDs ...string) []ControlRef
}

// Option configures New.
type Option func(*options) error

type options struct {
	dirs      []string
	noBuiltin bool
	extra     []Module
	tests     bool
	controls  func(ruleIDs ...string) []ControlRef
	data      map[string]any
}

// WithPolicyDir adds the .rego modules (and data.json / data.yaml files)
// under dir. A module whose package is also a built-in package replaces
// the built-in one.
func WithPolicyDir(dir string) Option {
	return func(o *options) error { o.dirs = append(o.dirs, dir); return nil }
}

// WithModule adds one module from source (tests, embedding).
func WithModule(name, src string) Option {
	return func(o *options) error { o.extra = append(o.extra, Module{Name: name, Source: src}); return nil }
}

// WithData merges document into data (e.g. {"mlsec": {"config": {…}}}).
func WithData(document map[string]any) Option {
	return func(o *options) error {
		if o.data == nil {
			o.data = map[string]any{}
		}
		merged, ok := mergeDocs(o.data, document)
		if !ok {
			return fmt.Errorf("%w: conflicting data documents", ErrPolicy)
		}
		o.data = merged
		return nil
	}
}

// WithoutBuiltin leaves the built-in pack out: only the user's policies
// (which must then define data.mlsec.decision) are evaluated.
func WithoutBuiltin() Option { return func(o *options) error { o.noBuiltin = true; return nil } }

// WithControls sets how violated rules are mapped to framework controls
// (compliance.Catalogue.Refs).
func WithControls(fn func(ruleIDs ...string) []ControlRef) Option {
	return func(o *options) error { o.controls = fn; return nil }
}

func withTests() Option { return func(o *options) error { o.tests = true; return nil } }

// Builtin returns the built-in modules (sources and packages), sorted by name.
func Builtin() ([]Module, error) {
	return readModules(builtinFS, "builtin", true, false)
}

func readModules(fsys fs.FS, root string, builtin, tests bool) ([]Module, error) {
	var out []Module
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".rego") || (!tests && strings.HasSuffix(p, "_test.rego")) {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out = append(out, Module{Name: p, Source: string(src), Builtin: builtin})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

func (m *Module) parse() error {
	mod, err := ast.ParseModuleWithOpts(m.Name, m.Source, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	m.parsed = mod
	m.Package = strings.TrimPrefix(mod.Package.Path.String(), "data.")
	return nil
}

// assemble loads the built-in and user modules and data, applying the
// replace-by-package rule.
func assemble(o *options) ([]Module, map[string]any, error) {
	var builtin []Module
	if !o.noBuiltin {
		var err error
		// The built-in pack's own tests run only when it is tested alone:
		// user modules may add denials its tests do not expect.
		builtinTests := o.tests && len(o.dirs) == 0 && len(o.extra) == 0
		if builtin, err = readModules(builtinFS, "builtin", true, builtinTests); err != nil {
			return nil, nil, err
		}
	}
	user := append([]Module(nil), o.extra...)
	data := o.data
	for _, dir := range o.dirs {
		if _, err := os.Stat(dir); err != nil {
			return nil, nil, fmt.Errorf("policy directory: %w", err)
		}
		res, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).Filtered([]string{dir}, func(abspath string, info fs.FileInfo, _ int) bool {
			if info.IsDir() {
				return false
			}
			base := filepath.Base(abspath)
			if strings.HasSuffix(base, ".rego") {
				return !o.tests && strings.HasSuffix(base, "_test.rego")
			}
			return base != "data.json" && base != "data.yaml" && base != "data.yml"
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrPolicy, err)
		}
		names := make([]string, 0, len(res.Modules))
		for n := range res.Modules {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			user = append(user, Module{Name: n, Source: string(res.Modules[n].Raw)})
		}
		if len(res.Documents) > 0 {
			if data == nil {
				data = map[string]any{}
			}
			merged, ok := mergeDocs(data, res.Documents)
			if !ok {
				return nil, nil, fmt.Errorf("%w: data files in %s conflict", ErrPolicy, dir)
			}
			data = merged
		}
	}
	replaced := map[string]bool{}
	for i := range user {
		if err := user[i].parse(); err != nil {
			return nil, nil, err
		}
		replaced[user[i].Package] = true
	}
	var out []Module
	for i := range builtin {
		if err := builtin[i].parse(); err != nil {
			return nil, nil, err
		}
		if !replaced[builtin[i].Package] || strings.HasSuffix(builtin[i].Name, "_test.rego") {
			out = append(out, builtin[i])
		}
	}
	out = append(out, user...)
	if data == nil {
		data = map[string]any{}
	}
	return out, data, nil
}

// New loads, compiles and prepares the policies.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	var o options
	for _, fn := range opts {
		if err := fn(&o); err != nil {
			return nil, err
		}
	}
	mods, data, err := assemble(&o)
	if err != nil {
		return nil, err
	}
	compiler, err := compile(mods)
	if err != nil {
		return nil, err
	}
	pq, err := rego.New(
		rego.Query(DecisionQuery),
		rego.Compiler(compiler),
		rego.Store(inmem.NewFromObject(data)),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	return &Engine{modules: mods, data: data, prepared: pq, controls: o.controls}, nil
}

func compile(mods []Module) (*ast.Compiler, error) {
	parsed := make(map[string]*ast.Module, len(mods))
	for _, m := range mods {
		parsed[m.Name] = m.parsed
	}
	c := ast.NewCompiler().WithStrict(false)
	c.Compile(parsed)
	if c.Failed() {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, c.Errors)
	}
	return c, nil
}

// Modules lists the modules the engine evaluates.
func (e *Engine) Modules() []Module { return append([]Module(nil), e.modules...) }

// Evaluate decides over in.
func (e *Engine) Evaluate(ctx context.Context, in *Input) (*Decision, error) {
	v, err := toValue(in)
	if err != nil {
		return nil, err
	}
	rs, err := e.prepared.Eval(ctx, rego.EvalParsedInput(v))
	if err != nil {
		return nil, fmt.Errorf("evaluate policy: %w", err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("%w: %s is undefined (is the decision package missing?)", ErrPolicy, DecisionQuery)
	}
	raw, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return nil, err
	}
	var d Decision
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%w: %s does not have the decision shape {allow, deny, warn, waived}: %v", ErrPolicy, DecisionQuery, err)
	}
	for _, list := range [][]Violation{d.Deny, d.Warn, d.Waived} {
		sortViolations(list)
		if e.controls != nil {
			for i := range list {
				ids := []string{list[i].Rule}
				if list[i].FindingRule != "" {
					ids = append(ids, list[i].FindingRule)
				}
				list[i].Controls = e.controls(ids...)
			}
		}
	}
	if d.Deny == nil {
		d.Deny = []Violation{}
	}
	if d.Warn == nil {
		d.Warn = []Violation{}
	}
	if d.Waived == nil {
		d.Waived = []Violation{}
	}
	return &d, nil
}

var severityRank = map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}

func sortViolations(vs []Violation) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i], vs[j]
		ra, oka := severityRank[a.Severity]
		rb, okb := severityRank[b.Severity]
		if !oka {
			ra = 5
		}
		if !okb {
			rb = 5
		}
		if ra != rb {
			return ra < rb
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}

// toValue converts the input to an AST value through its JSON form, so
// policies see exactly the documented schema.
func toValue(in *Input) (ast.Value, error) {
	if in.SchemaVersion == "" {
		in.SchemaVersion = InputSchemaVersion
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode input: %w", err)
	}
	var doc any
	if err := util.UnmarshalJSON(raw, &doc); err != nil {
		return nil, fmt.Errorf("encode input: %w", err)
	}
	return ast.InterfaceToValue(doc)
}

// mergeDocs merges b into a (objects recursively); false on a conflict.
func mergeDocs(a, b map[string]any) (map[string]any, bool) {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if cur, ok := out[k]; ok {
			am, ok1 := cur.(map[string]any)
			bm, ok2 := v.(map[string]any)
			if !ok1 || !ok2 {
				return nil, false
			}
			m, ok := mergeDocs(am, bm)
			if !ok {
				return nil, false
			}
			out[k] = m
			continue
		}
		out[k] = v
	}
	return out, true
}
