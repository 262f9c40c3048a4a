// Package redteam runs mlsec's black-box attacks against one model —
// evasion (HopSkipJump, Boundary, Square, SimBA), membership inference and
// model extraction — through one budgeted, batching attack.Oracle, and
// turns the measurements into findings (MLS-ADV-001..004) when they cross
// the configured thresholds.
package redteam

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/evasion"
	"github.com/mlsec/mlsec/internal/attack/extraction"
	"github.com/mlsec/mlsec/internal/attack/membership"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/inference"
)

// Attack names accepted in Config.Attacks besides the evasion attacks.
const (
	Membership = "membership"
	Extraction = "extraction"
)

// AllAttacks is the default attack list.
var AllAttacks = []string{"hopskipjump", "boundary", "square", "simba", Membership, Extraction}

// ErrConfig marks unusable options or data.
var ErrConfig = errors.New("redteam: invalid configuration")

// Data is labelled rows.
type Data struct {
	Names  []string
	X      [][]float64
	Labels []string
}

// Thresholds turn measurements into findings.
type Thresholds struct {
	// EvasionRate: MLS-ADV-001 when an attack's success rate at
	// EvasionEps reaches it (default 0.5).
	EvasionRate float64 `json:"evasion_rate"`
	// EvasionEps is the ε judged (default: the largest configured ε).
	EvasionEps float64 `json:"evasion_eps"`
	// MinPerturbation: MLS-ADV-002 when a minimal-perturbation attack's
	// median perturbation is at most this (default 0.05, in Norm units).
	MinPerturbation float64 `json:"min_perturbation"`
	// MembershipAUC and MembershipTPR: MLS-ADV-003 when any attack's ROC
	// AUC reaches MembershipAUC (default 0.6) or its TPR at 1% FPR reaches
	// MembershipTPR (default 0.1).
	MembershipAUC float64 `json:"membership_auc"`
	MembershipTPR float64 `json:"membership_tpr"`
	// ExtractionFidelity: MLS-ADV-004 when a surrogate reaches it
	// (default 0.9).
	ExtractionFidelity float64 `json:"extraction_fidelity"`
}

// Config controls a red-team run.
type Config struct {
	Attacks []string     `json:"attacks"`
	Norm    evasion.Norm `json:"norm"`
	Eps     []float64    `json:"eps"`
	// Budget is the most queries per sample and evasion attack.
	Budget int `json:"budget"`
	// Samples is how many data rows are drawn for evasion.
	Samples int    `json:"samples"`
	Seed    uint64 `json:"seed"`
	Workers int    `json:"workers"`
	// ExtractionBudgets are the query counts tried for extraction.
	ExtractionBudgets []int `json:"extraction_budgets"`
	// EvalRows bounds the held-out rows for extraction (default 1000).
	EvalRows   int            `json:"eval_rows"`
	Batch      int            `json:"batch"`
	Thresholds Thresholds     `json:"thresholds"`
	Schema     *attack.Schema `json:"-"`
	// Members and NonMembers enable membership inference; Population is
	// the attacker's data for shadow models (default: the data).
	Members, NonMembers, Population *Data `json:"-"`
}

// DefaultEps are the default perturbation sizes per norm.
func DefaultEps(n evasion.Norm) []float64 {
	if n == evasion.Linf {
		return []float64{0.03, 0.05, 0.1, 0.2}
	}
	return []float64{0.1, 0.25, 0.5, 1}
}

func (c *Config) defaults() error {
	if len(c.Attacks) == 0 {
		c.Attacks = AllAttacks
	}
	if c.Norm == "" {
		c.Norm = evasion.L2
	}
	if c.Norm != evasion.L2 && c.Norm != evasion.Linf {
		return fmt.Errorf("%w: norm %q (want l2 or linf)", ErrConfig, c.Norm)
	}
	if len(c.Eps) == 0 {
		c.Eps = DefaultEps(c.Norm)
	}
	c.Eps = slices.Clone(c.Eps)
	slices.Sort(c.Eps)
	for _, e := range c.Eps {
		if !(e > 0) {
			return fmt.Errorf("%w: ε must be positive, got %v", ErrConfig, e)
		}
	}
	if c.Budget <= 0 {
		c.Budget = 1000
	}
	if c.Samples <= 0 {
		c.Samples = 100
	}
	if c.EvalRows <= 0 {
		c.EvalRows = 1000
	}
	t := &c.Thresholds
	if t.EvasionRate <= 0 {
		t.EvasionRate = 0.5
	}
	if t.EvasionEps <= 0 {
		t.EvasionEps = c.Eps[len(c.Eps)-1]
	}
	if t.MinPerturbation <= 0 {
		t.MinPerturbation = 0.05
	}
	if t.MembershipAUC <= 0 {
		t.MembershipAUC = 0.6
	}
	if t.MembershipTPR <= 0 {
		t.MembershipTPR = 0.1
	}
	if t.ExtractionFidelity <= 0 {
		t.ExtractionFidelity = 0.9
	}
	for _, a := range c.Attacks {
		if a == Membership || a == Extraction {
			continue
		}
		if _, err := evasion.ByName(a, c.Norm); err != nil {
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
	}
	return nil
}

// Result is everything a run measured.
type Result struct {
	Target   string           `json:"target"`
	DataPath string           `json:"data"`
	Artifact finding.Artifact `json:"artifact"`
	Config   Config           `json:"settings"`
	Features []attack.Feature `json:"features"`
	Classes  []string         `json:"classes"`
	Scores   bool             `json:"scores"`
	Rows     int              `json:"rows"`
	// Evaluated is the number of sampled rows; CleanAccuracy the model's
	// accuracy on them.
	Evaluated     int                `json:"evaluated"`
	CleanAccuracy float64            `json:"clean_accuracy"`
	Evasion       []*evasion.Result  `json:"evasion,omitempty"`
	Membership    *membership.Result `json:"membership,omitempty"`
	Extraction    *extraction.Result `json:"extraction,omitempty"`
	// Queries and Calls count every row sent and every request made.
	Queries  int64             `json:"queries"`
	Calls    int64             `json:"calls"`
	Findings []finding.Finding `json:"findings"`
	Notes    []string          `json:"notes,omitempty"`
	// Gaps are requested attacks that could not run: the run is
	// inconclusive.
	Gaps     []string      `json:"gaps,omitempty"`
	Started  time.Time     `json:"started_at"`
	Duration time.Duration `json:"-"`
}

// Run red-teams model on data.
func Run(ctx context.Context, model inference.Model, target string, art finding.Artifact, data *Data, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if data == nil || len(data.X) == 0 {
		return nil, fmt.Errorf("%w: no data rows", ErrConfig)
	}
	if len(data.Labels) != len(data.X) {
		return nil, fmt.Errorf("%w: %d rows but %d labels", ErrConfig, len(data.X), len(data.Labels))
	}
	start := time.Now()
	sch, err := attack.Resolve(cfg.Schema, attack.InferSchema(data.Names, data.X))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	sp := attack.NewSpace(sch)
	o, err := attack.NewOracle(ctx, model, data.X[0], attack.OracleOptions{Batch: cfg.Batch, Concurrency: max(cfg.Workers/2, 1)})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	res := &Result{Target: target, Artifact: art, Config: cfg, Features: sch.Features, Scores: o.HasScores(),
		Rows: len(data.X), Started: start.UTC()}

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x72656474))
	perm := rng.Perm(len(data.X))
	nEval := min(cfg.Samples, len(data.X))
	sample := slices.Clone(perm[:nEval])
	slices.Sort(sample)
	tg := evasion.Target{}
	for _, i := range sample {
		tg.Rows = append(tg.Rows, data.X[i])
		tg.Labels = append(tg.Labels, o.ClassIndex(data.Labels[i]))
		tg.Index = append(tg.Index, i)
	}
	ans, err := o.Query(ctx, tg.Rows)
	if err != nil {
		return nil, err
	}
	correct := 0
	for i := range tg.Rows {
		ok := tg.Labels[i] >= 0 && ans.Labels[i] == tg.Labels[i]
		tg.Correct = append(tg.Correct, ok)
		if ok {
			correct++
		}
	}
	res.Evaluated, res.CleanAccuracy = nEval, float64(correct)/float64(nEval)

	for _, name := range cfg.Attacks {
		if name == Membership || name == Extraction {
			continue
		}
		a, _ := evasion.ByName(name, cfg.Norm)
		if a.NeedsScores() && !o.HasScores() {
			res.Gaps = append(res.Gaps, fmt.Sprintf("%s needs class scores; the model returns labels only", name))
			continue
		}
		r, err := evasion.Run(ctx, o, sp, tg, a, evasion.Config{Norm: cfg.Norm, Eps: cfg.Eps, Budget: cfg.Budget, Workers: cfg.Workers, Seed: cfg.Seed})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		res.Evasion = append(res.Evasion, r)
		if r.Errors > 0 {
			first := ""
			for _, s := range r.Samples {
				if s.Error != "" {
					first = s.Error
					break
				}
			}
			res.Gaps = append(res.Gaps, fmt.Sprintf("%s: %d of %d samples failed (%s)", name, r.Errors, r.Attacked, first))
		}
	}

	if slices.Contains(cfg.Attacks, Membership) {
		if cfg.Members == nil || cfg.NonMembers == nil {
			res.Notes = append(res.Notes, "membership inference needs member and non-member records (--members, --nonmembers); skipped")
		} else {
			pop := cfg.Population
			if pop == nil {
				pop = data
			}
			in := membership.Input{Members: set(o, cfg.Members), NonMembers: set(o, cfg.NonMembers), Population: set(o, pop)}
			r, err := membership.Run(ctx, o, in, membership.Config{Seed: cfg.Seed})
			if err != nil {
				return nil, err
			}
			res.Membership = r
			for _, n := range r.Notes {
				res.Gaps = append(res.Gaps, "membership: "+n)
			}
		}
	}

	if slices.Contains(cfg.Attacks, Extraction) {
		if len(data.X) < 20 {
			res.Gaps = append(res.Gaps, fmt.Sprintf("extraction needs at least 20 data rows, got %d", len(data.X)))
		} else {
			p2 := rand.New(rand.NewPCG(cfg.Seed, 0x65787472)).Perm(len(data.X))
			ne := min(cfg.EvalRows, len(data.X)/2)
			in := extraction.Input{Space: sp}
			for _, i := range p2[:ne] {
				in.Eval = append(in.Eval, data.X[i])
				in.EvalLabels = append(in.EvalLabels, o.ClassIndex(data.Labels[i]))
			}
			for _, i := range p2[ne:] {
				in.Pool = append(in.Pool, data.X[i])
			}
			ea, err := o.Query(ctx, in.Eval)
			if err != nil {
				return nil, err
			}
			in.EvalTarget = ea.Labels
			r, err := extraction.Run(ctx, o, in, extraction.Config{Budgets: cfg.ExtractionBudgets, Seed: cfg.Seed})
			if err != nil {
				return nil, err
			}
			res.Extraction = r
		}
	}
	res.Classes = o.Classes()
	res.Queries, res.Calls = o.Rows(), o.Calls()
	res.Findings = judge(res, cfg)
	res.Duration = time.Since(start)
	return res, nil
}

func set(o *attack.Oracle, d *Data) membership.Set {
	s := membership.Set{X: d.X}
	for _, l := range d.Labels {
		s.Labels = append(s.Labels, o.ClassIndex(l))
	}
	return s
}

func judge(res *Result, cfg Config) []finding.Finding {
	t := cfg.Thresholds
	var out []finding.Finding
	mk := func(r *finding.Rule, pointer, text string, fields map[string]any) {
		f := finding.New(r, res.Artifact, finding.Location{Pointer: pointer})
		f.Evidence = finding.Evidence{Text: text, Fields: fields}
		out = append(out, f)
	}
	for _, e := range res.Evasion {
		// Success at the largest configured ε not above the judged ε.
		var at *evasion.EpsResult
		for i := range e.AtEps {
			if e.AtEps[i].Eps <= t.EvasionEps*(1+1e-12) {
				at = &e.AtEps[i]
			}
		}
		if at != nil && e.Attacked > 0 && at.SuccessRate >= t.EvasionRate {
			mk(attack.RuleEvasion, "/evasion/"+e.Attack,
				fmt.Sprintf("%s (%s, %s access) evaded %.0f%% of %d correctly classified samples at %s ε=%g with a median of %.0f queries (budget %d per sample)",
					e.Attack, e.Norm, e.Access, 100*at.SuccessRate, e.Attacked, cfg.Norm, at.Eps, at.MedianQueries, cfg.Budget),
				map[string]any{"attack": e.Attack, "norm": string(cfg.Norm), "eps": at.Eps, "success_rate": at.SuccessRate,
					"robust_accuracy": at.RobustAccuracy, "median_queries": at.MedianQueries, "budget": cfg.Budget, "threshold": t.EvasionRate})
		}
		if !e.FixedEps && e.Successes > 0 && e.MedianPerturbation <= t.MinPerturbation {
			mk(attack.RulePerturbation, "/evasion/"+e.Attack,
				fmt.Sprintf("%s: median minimal %s perturbation %.4f of the feature ranges (threshold %g) over %d successful samples",
					e.Attack, cfg.Norm, e.MedianPerturbation, t.MinPerturbation, e.Successes),
				map[string]any{"attack": e.Attack, "norm": string(cfg.Norm), "median_perturbation": e.MedianPerturbation, "threshold": t.MinPerturbation})
		}
	}
	if m := res.Membership; m != nil {
		var hits []string
		best := m.Best()
		maxTPR := 0.0
		for _, a := range m.Attacks {
			maxTPR = max(maxTPR, a.TPRAt1FPR)
			if a.AUC >= t.MembershipAUC || a.TPRAt1FPR >= t.MembershipTPR {
				hits = append(hits, fmt.Sprintf("%s (AUC %.3f, advantage %.3f, TPR %.3f at 1%% FPR)", a.Attack, a.AUC, a.Advantage, a.TPRAt1FPR))
			}
		}
		if len(hits) > 0 {
			mk(attack.RuleMembership, "/membership",
				fmt.Sprintf("membership inference separates %d members from %d non-members: %s; accuracy on members %.3f vs non-members %.3f",
					m.Members, m.NonMembers, strings.Join(hits, "; "), m.MemberAccuracy, m.NonMemberAccuracy),
				map[string]any{"best_attack": best.Attack, "auc": best.AUC, "advantage": best.Advantage, "max_tpr_at_1pct_fpr": maxTPR,
					"auc_threshold": t.MembershipAUC, "tpr_threshold": t.MembershipTPR})
		}
	}
	if x := res.Extraction; x != nil {
		if p, ok := x.QueriesFor(t.ExtractionFidelity); ok {
			mk(attack.RuleExtraction, "/extraction",
				fmt.Sprintf("a %s surrogate trained on %d %s queries agrees with the model on %.1f%% of %d held-out rows (threshold %.0f%%)",
					p.Surrogate, p.Queries, p.Source, 100*p.Fidelity, x.EvalRows, 100*t.ExtractionFidelity),
				map[string]any{"surrogate": p.Surrogate, "source": p.Source, "queries": p.Queries, "fidelity": p.Fidelity,
					"accuracy": p.Accuracy, "threshold": t.ExtractionFidelity})
		}
	}
	return out
}

// Report wraps the findings in a finding.Report (for SARIF, the policy
// gate, the server and exit codes). Gaps make the run inconclusive.
func (r *Result) Report(tool finding.Tool) *finding.Report {
	status := finding.StatusComplete
	if len(r.Gaps) > 0 {
		status = finding.StatusInconclusive
	}
	rep := &finding.Report{
		Tool: tool, StartedAt: r.Started, DurationMS: r.Duration.Milliseconds(), Targets: []string{r.Target},
		Artifacts: []finding.ArtifactResult{{Artifact: r.Artifact, Status: status, Gaps: r.Gaps,
			Findings: slices.Clone(r.Findings), DurationMS: r.Duration.Milliseconds()}},
	}
	rep.Finalize()
	return rep
}
