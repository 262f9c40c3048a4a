package membership_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/attacktest"
	"github.com/mlsec/mlsec/internal/attack/membership"
)

func run(t *testing.T, model string) *membership.Result {
	t.Helper()
	ctx := context.Background()
	m := attacktest.Model(t, filepath.Join(attacktest.Dir(), model+".onnx"))
	mem := attacktest.ReadCSV(t, filepath.Join(attacktest.Dir(), "mia_members.csv"))
	non := attacktest.ReadCSV(t, filepath.Join(attacktest.Dir(), "mia_nonmembers.csv"))
	pop := attacktest.ReadCSV(t, filepath.Join(attacktest.Dir(), "mia_population.csv"))
	o, err := attack.NewOracle(ctx, m, mem.X[0], attack.OracleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	set := func(d *attacktest.Data) membership.Set {
		s := membership.Set{X: d.X}
		for _, l := range d.Labels {
			s.Labels = append(s.Labels, o.ClassIndex(l))
		}
		return s
	}
	r, err := membership.Run(ctx, o, membership.Input{Members: set(mem), NonMembers: set(non), Population: set(pop)}, membership.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Queries != int64(len(mem.X)+len(non.X)) {
		t.Errorf("queries %d, want %d", r.Queries, len(mem.X)+len(non.X))
	}
	for _, a := range r.Attacks {
		t.Logf("%s %s: AUC %.3f advantage %.3f TPR@1%%FPR %.3f", model, a.Attack, a.AUC, a.Advantage, a.TPRAt1FPR)
	}
	t.Logf("%s: member accuracy %.3f, non-member %.3f, %d ms", model, r.MemberAccuracy, r.NonMemberAccuracy, r.DurationMS)
	return r
}

func TestSeparatesOverfitFromRegularised(t *testing.T) {
	over := run(t, "mia_overfit")
	reg := run(t, "mia_regularised")
	get := func(r *membership.Result, name string) membership.AttackResult {
		for _, a := range r.Attacks {
			if a.Attack == name {
				return a
			}
		}
		t.Fatalf("no %s attack", name)
		return membership.AttackResult{}
	}
	for _, name := range []string{"confidence", "loss", "shadow"} {
		o, g := get(over, name), get(reg, name)
		if o.AUC < 0.6 {
			t.Errorf("%s: over-fit AUC %.3f, want ≥ 0.6", name, o.AUC)
		}
		if g.AUC > 0.58 {
			t.Errorf("%s: regularised AUC %.3f, want ≤ 0.58", name, g.AUC)
		}
		if o.Advantage <= g.Advantage {
			t.Errorf("%s: advantage over-fit %.3f ≤ regularised %.3f", name, o.Advantage, g.Advantage)
		}
	}
}

func TestROC(t *testing.T) {
	r := attack.ComputeROC([]float64{3, 4, 5}, []float64{0, 1, 2})
	if r.AUC != 1 || r.Advantage != 1 || r.TPRAt1FPR != 1 {
		t.Errorf("perfect separation: %+v", r)
	}
	r = attack.ComputeROC([]float64{1, 1}, []float64{1, 1})
	if r.AUC != 0.5 || r.Advantage != 0 {
		t.Errorf("ties: %+v", r)
	}
	r = attack.ComputeROC([]float64{0, 2}, []float64{1, 3})
	if r.AUC != 0.25 {
		t.Errorf("AUC %v, want 0.25", r.AUC)
	}
}
