package attack_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/attacktest"
	"github.com/mlsec/mlsec/internal/inference"
)

// slowModel adds a network-like latency to every call.
type slowModel struct{ inference.Model }

func (s slowModel) Predict(ctx context.Context, in []inference.Tensor, out ...string) ([]inference.Tensor, error) {
	time.Sleep(2 * time.Millisecond)
	return s.Model.Predict(ctx, in, out...)
}

func ptr(v float64) *float64 { return &v }

func TestParseSchema(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"full", "features:\n  - {name: age, type: integer, min: 18, max: 100, immutable: true}\n  - {name: c, type: categorical, values: [2, 0, 1, 1]}\n  - {name: x}\n", true},
		{"json", `{"features":[{"name":"x","min":0,"max":1}]}`, true},
		{"empty", "", false},
		{"unknown key", "features:\n  - {name: x, maxx: 1}\n", false},
		{"unknown type", "features:\n  - {name: x, type: string}\n", false},
		{"no name", "features:\n  - {min: 1}\n", false},
		{"duplicate", "features:\n  - {name: x}\n  - {name: x}\n", false},
		{"min>max", "features:\n  - {name: x, min: 2, max: 1}\n", false},
		{"nan", "features:\n  - {name: x, min: .nan}\n", false},
		{"inf", "features:\n  - {name: x, max: .inf}\n", false},
		{"categorical without values", "features:\n  - {name: x, type: categorical}\n", false},
		{"values on continuous", "features:\n  - {name: x, values: [1]}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := attack.ParseSchema([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, attack.ErrSchema) {
				t.Errorf("error %v does not wrap ErrSchema", err)
			}
			if tc.name == "full" && !slices.Equal(s.Features[1].Values, []float64{0, 1, 2}) {
				t.Errorf("values not sorted and deduplicated: %v", s.Features[1].Values)
			}
		})
	}
}

func TestInferAndResolve(t *testing.T) {
	x := [][]float64{{0.5, 3, 1, 7}, {1.5, 5, 0, 7}, {2.5, 4, 1, 7}}
	inf := attack.InferSchema([]string{"a", "b", "c", "d"}, x)
	kinds := []attack.Kind{attack.Continuous, attack.Integer, attack.Categorical, attack.Categorical}
	for j, f := range inf.Features {
		if f.Kind != kinds[j] {
			t.Errorf("%s: kind %s, want %s", f.Name, f.Kind, kinds[j])
		}
	}
	if *inf.Features[0].Min != 0.5 || *inf.Features[0].Max != 2.5 {
		t.Errorf("bounds %v..%v", *inf.Features[0].Min, *inf.Features[0].Max)
	}
	file := &attack.Schema{Features: []attack.Feature{{Name: "a", Kind: attack.Continuous, Max: ptr(10)}, {Name: "b", Kind: attack.Integer, Immutable: true}}}
	s, err := attack.Resolve(file, inf)
	if err != nil {
		t.Fatal(err)
	}
	if *s.Features[0].Min != 0.5 || *s.Features[0].Max != 10 || !s.Features[1].Immutable {
		t.Errorf("resolved %+v", s.Features[:2])
	}
	if _, err := attack.Resolve(&attack.Schema{Features: []attack.Feature{{Name: "zz"}}}, inf); err == nil {
		t.Error("unknown feature accepted")
	}
}

func TestProjectRespectsConstraints(t *testing.T) {
	s := &attack.Schema{Features: []attack.Feature{
		{Name: "x", Kind: attack.Continuous, Min: ptr(-1), Max: ptr(1)},
		{Name: "n", Kind: attack.Integer, Min: ptr(0), Max: ptr(10)},
		{Name: "c", Kind: attack.Categorical, Min: ptr(0), Max: ptr(5), Values: []float64{0, 2, 5}},
		{Name: "fixed", Kind: attack.Continuous, Min: ptr(0), Max: ptr(1), Immutable: true},
		{Name: "const", Kind: attack.Continuous, Min: ptr(3), Max: ptr(3)},
	}}
	sp := attack.NewSpace(s)
	x0 := []float64{0, 5, 2, 0.25, 3}
	u0 := sp.ToUnit(x0)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		u := make([]float64, 5)
		for j := range u {
			u[j] = rng.Float64()*3 - 1
		}
		x := sp.FromUnit(sp.Project(u, u0), x0)
		if x[0] < -1 || x[0] > 1 {
			t.Fatalf("continuous out of bounds: %v", x)
		}
		if x[1] != math.Round(x[1]) || x[1] < 0 || x[1] > 10 {
			t.Fatalf("integer: %v", x)
		}
		if math.Abs(x[1]-math.Round(x[1])) > 1e-9 || !slices.Contains([]float64{0, 2, 5}, math.Round(x[2]*1e9)/1e9) {
			t.Fatalf("categorical: %v", x)
		}
		if x[3] != 0.25 || x[4] != 3 {
			t.Fatalf("immutable changed: %v", x)
		}
		if !sp.InBounds(x, x0, 1e-9) {
			t.Fatalf("InBounds rejects a projected point %v", x)
		}
	}
	if sp.InBounds([]float64{0, 5, 2, 0.5, 3}, x0, 1e-9) {
		t.Error("changed immutable feature passes InBounds")
	}
	if sp.MutableCount() != 3 {
		t.Errorf("mutable %d, want 3", sp.MutableCount())
	}
}

func TestOracleBudgetAndBatching(t *testing.T) {
	ctx := context.Background()
	m, d := attacktest.Fixture(t, "logreg")
	o, err := attack.NewOracle(ctx, m, d.X[0], attack.OracleOptions{Batch: 64, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !o.HasScores() || !slices.Equal(o.Classes(), []string{"0", "1"}) {
		t.Fatalf("classes %v, scores %v", o.Classes(), o.HasScores())
	}
	if o.Rows() != 1 {
		t.Errorf("probe counted %d rows", o.Rows())
	}
	s := o.Session(10)
	if _, err := s.Query(ctx, d.X[:7]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, d.X[:4]); !errors.Is(err, attack.ErrBudget) {
		t.Fatalf("over-budget query: %v", err)
	}
	if s.Used() != 7 || o.Rows() != 8 {
		t.Errorf("refused rows were counted: session %d, oracle %d", s.Used(), o.Rows())
	}
	if _, err := s.Query(ctx, d.X[:3]); err != nil || s.Remaining() != 0 {
		t.Fatalf("exact budget: %v, remaining %d", err, s.Remaining())
	}
	// Concurrent single-row callers share requests while one is in
	// flight (a remote model's latency); answers match a direct batch.
	o.Close()
	o, err = attack.NewOracle(ctx, slowModel{m}, d.X[0], attack.OracleOptions{Batch: 64, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	want, err := o.Query(ctx, d.X[:200])
	if err != nil {
		t.Fatal(err)
	}
	calls, rows := o.Calls(), o.Rows()
	var wg sync.WaitGroup
	got := make([]int, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := o.Query(ctx, d.X[i:i+1])
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = a.Labels[0]
		}()
	}
	wg.Wait()
	if !slices.Equal(got, want.Labels) {
		t.Error("batched answers differ from a direct query")
	}
	if o.Rows()-rows != 200 {
		t.Errorf("counted %d rows for 200", o.Rows()-rows)
	}
	t.Logf("200 concurrent single-row queries took %d requests", o.Calls()-calls)
	if o.Calls()-calls >= 200 {
		t.Errorf("no batching: %d requests", o.Calls()-calls)
	}
}
