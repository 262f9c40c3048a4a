// Package membership measures how much a classifier's answers reveal about
// its training set, given records known to be members (training data) and
// non-members from the same distribution:
//
//   - confidence threshold: the model's top probability (Salem et al.,
//     "ML-Leaks", NDSS 2019), needs no label;
//   - loss threshold: the cross-entropy of the true label (Yeom et al.,
//     "Privacy Risk in Machine Learning", CSF 2018);
//   - label only: whether the prediction is correct (Yeom et al.'s
//     gap attack), for models that return labels only;
//   - shadow models (Shokri et al., "Membership Inference Attacks Against
//     Machine Learning Models", S&P 2017): small networks trained on the
//     attacker's own population sample, half in and half out, teach an
//     attack classifier what a member's output looks like.
//
// Each attack's score is summarised by ROC AUC, the membership advantage
// (max TPR − FPR) and TPR at 1% FPR, all threshold-free.
package membership

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/learn"
)

// Set is labelled rows (labels are class indices of the oracle).
type Set struct {
	X      [][]float64
	Labels []int
}

// Input holds the records to classify and the attacker's own data.
type Input struct {
	Members, NonMembers Set
	// Population is the attacker's labelled sample of the data
	// distribution for shadow models (optional).
	Population Set
}

// Config controls the attacks.
type Config struct {
	// ShadowModels is the number of shadow models (default 4; 0 with
	// NoShadow skips the attack).
	ShadowModels int
	NoShadow     bool
	// ShadowHidden is the shadow networks' hidden width (default 64).
	ShadowHidden int
	Seed         uint64
}

// AttackResult is one attack's separation of members from non-members.
type AttackResult struct {
	Attack string `json:"attack"`
	attack.ROC
}

// Result is the membership-inference assessment.
type Result struct {
	Members           int            `json:"members"`
	NonMembers        int            `json:"non_members"`
	MemberAccuracy    float64        `json:"member_accuracy"`
	NonMemberAccuracy float64        `json:"non_member_accuracy"`
	Queries           int64          `json:"queries"`
	Attacks           []AttackResult `json:"attacks"`
	Notes             []string       `json:"notes,omitempty"`
	DurationMS        int64          `json:"duration_ms"`
}

// Best is the attack with the highest AUC.
func (r *Result) Best() AttackResult {
	var b AttackResult
	for i, a := range r.Attacks {
		if i == 0 || a.AUC > b.AUC {
			b = a
		}
	}
	return b
}

// Run queries the model on members and non-members and scores them.
func Run(ctx context.Context, o *attack.Oracle, in Input, cfg Config) (*Result, error) {
	start := time.Now()
	if len(in.Members.X) == 0 || len(in.NonMembers.X) == 0 {
		return nil, fmt.Errorf("membership: need members and non-members")
	}
	before := o.Rows()
	mem, err := o.Query(ctx, in.Members.X)
	if err != nil {
		return nil, fmt.Errorf("membership: members: %w", err)
	}
	non, err := o.Query(ctx, in.NonMembers.X)
	if err != nil {
		return nil, fmt.Errorf("membership: non-members: %w", err)
	}
	res := &Result{Members: len(in.Members.X), NonMembers: len(in.NonMembers.X), Queries: o.Rows() - before}
	res.MemberAccuracy = accuracy(mem.Labels, in.Members.Labels)
	res.NonMemberAccuracy = accuracy(non.Labels, in.NonMembers.Labels)
	add := func(name string, f func(a attack.Answer, labels []int, i int) float64) {
		ps := make([]float64, len(in.Members.X))
		ns := make([]float64, len(in.NonMembers.X))
		for i := range ps {
			ps[i] = f(mem, in.Members.Labels, i)
		}
		for i := range ns {
			ns[i] = f(non, in.NonMembers.Labels, i)
		}
		res.Attacks = append(res.Attacks, AttackResult{Attack: name, ROC: attack.ComputeROC(ps, ns)})
	}
	add("label-only", func(a attack.Answer, y []int, i int) float64 {
		if a.Labels[i] == y[i] {
			return 1
		}
		return 0
	})
	if !o.HasScores() {
		res.Notes = append(res.Notes, "the model returns labels only: confidence, loss and shadow-model attacks need scores")
		res.DurationMS = time.Since(start).Milliseconds()
		return res, nil
	}
	add("confidence", func(a attack.Answer, _ []int, i int) float64 {
		m := 0.0
		for _, p := range a.Scores[i] {
			m = max(m, p)
		}
		return m
	})
	add("loss", func(a attack.Answer, y []int, i int) float64 { return -crossEntropy(a.Scores[i], y[i]) })
	if !cfg.NoShadow {
		if len(in.Population.X) < 20 {
			res.Notes = append(res.Notes, fmt.Sprintf("shadow-model attack skipped: %d population rows (need 20)", len(in.Population.X)))
		} else {
			atk, err := trainShadowAttack(in.Population, len(o.Classes()), cfg)
			if err != nil {
				return nil, err
			}
			add("shadow", func(a attack.Answer, y []int, i int) float64 {
				return atk.Proba([][]float64{features(a.Scores[i], y[i])})[0][1]
			})
		}
	}
	res.DurationMS = time.Since(start).Milliseconds()
	return res, nil
}

func accuracy(pred, y []int) float64 {
	ok := 0
	for i := range pred {
		if pred[i] == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(max(len(pred), 1))
}

func crossEntropy(p []float64, y int) float64 {
	if y < 0 || y >= len(p) {
		return math.Inf(1)
	}
	return -math.Log(max(p[y], 1e-12))
}

// features describe one output for the attack classifier: true-class
// probability, top probability, loss, entropy and the true-class margin.
func features(p []float64, y int) []float64 {
	var top, ent float64
	other := 0.0
	for k, v := range p {
		top = max(top, v)
		if v > 0 {
			ent -= v * math.Log(v)
		}
		if k != y {
			other = max(other, v)
		}
	}
	py := 0.0
	if y >= 0 && y < len(p) {
		py = p[y]
	}
	return []float64{py, top, min(crossEntropy(p, y), 30), ent, py - other}
}

// trainShadowAttack trains shadow networks on random halves of the
// population and an attack classifier on their in/out outputs.
func trainShadowAttack(pop Set, k int, cfg Config) (*learn.Model, error) {
	nShadow := cfg.ShadowModels
	if nShadow <= 0 {
		nShadow = 4
	}
	hidden := cfg.ShadowHidden
	if hidden <= 0 {
		hidden = 64
	}
	var ax [][]float64
	var ay []int
	n := len(pop.X)
	for s := range nShadow {
		seed := cfg.Seed ^ uint64(s+1)*0x9e3779b97f4a7c15
		perm := permutation(n, seed)
		in, out := perm[:n/2], perm[n/2:]
		x := make([][]float64, len(in))
		y := make([]int, len(in))
		for i, j := range in {
			x[i], y[i] = pop.X[j], pop.Labels[j]
		}
		// Shadow models imitate an unregularised target: the attacker
		// cannot know the target's training recipe.
		m, err := learn.Train(x, learn.OneHot(y, k), k, learn.Options{Hidden: hidden, Epochs: 300, L2: -1, Seed: seed})
		if err != nil {
			return nil, fmt.Errorf("membership: shadow model: %w", err)
		}
		for part, idx := range [][]int{in, out} {
			rows := make([][]float64, len(idx))
			for i, j := range idx {
				rows[i] = pop.X[j]
			}
			for i, p := range m.Proba(rows) {
				ax = append(ax, features(p, pop.Labels[idx[i]]))
				ay = append(ay, 1-part) // 1: member (the "in" half)
			}
		}
	}
	return learn.Train(ax, learn.OneHot(ay, 2), 2, learn.Options{Hidden: 16, Epochs: 100, Seed: cfg.Seed})
}

func permutation(n int, seed uint64) []int {
	// Fisher–Yates with a splitmix stream, so shadow splits depend only on the seed.
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	x := seed
	for i := n - 1; i > 0; i-- {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		j := int(z % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}
