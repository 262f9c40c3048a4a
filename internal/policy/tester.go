package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test rule.
type TestResult struct {
	Package  string        `json:"package"`
	Name     string        `json:"name"`
	File     string        `json:"file"`
	Pass     bool          `json:"pass"`
	Skip     bool          `json:"skip,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// RunTests runs the Rego unit tests (rules named test_*) in the given
// policy directories against the same modules and data a check would use
// (the built-in pack with the user's replacements). Without directories it
// runs the built-in pack's own tests.
func RunTests(ctx context.Context, opts ...Option) ([]TestResult, error) {
	o := options{}
	for _, fn := range append(opts, withTests()) {
		if err := fn(&o); err != nil {
			return nil, err
		}
	}
	mods, data, err := assemble(&o)
	if err != nil {
		return nil, err
	}
	parsed := make(map[string]*ast.Module, len(mods))
	for _, m := range mods {
		parsed[m.Name] = m.parsed
	}
	ch, err := tester.NewRunner().SetStore(inmem.NewFromObject(data)).SetModules(parsed).
		SetDefaultRegoVersion(ast.RegoV1).SetTimeout(time.Minute).RaiseBuiltinErrors(true).RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{Package: r.Package, Name: r.Name, Pass: r.Pass(), Skip: r.Skip, Duration: r.Duration}
		if r.Location != nil {
			tr.File = r.Location.File
		}
		switch {
		case r.Error != nil:
			tr.Error = r.Error.Error()
		case r.Fail:
			tr.Error = "test rule is false or undefined"
		}
		out = append(out, tr)
	}
	return out, nil
}
