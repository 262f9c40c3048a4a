package attack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mlsec/mlsec/internal/inference"
)

// ErrBudget is returned when a query would exceed its budget. The refused
// rows are never sent to the model.
var ErrBudget = errors.New("attack: query budget exhausted")

// Answer is a model's answer for a batch of rows.
type Answer struct {
	// Labels are predicted class indices (into Oracle.Classes).
	Labels []int
	// Scores are class probabilities per row; nil when the model only
	// returns labels (decision-based access).
	Scores [][]float64
}

// Oracle is the only way attacks reach the model. It batches the rows of
// concurrent callers into shared requests (up to the batch size), counts
// every row sent, and hands out Sessions that refuse to exceed a budget.
type Oracle struct {
	model   inference.Model
	batch   int
	reqs    chan *request
	done    chan struct{}
	wg      sync.WaitGroup
	rows    atomic.Int64
	calls   atomic.Int64
	mu      sync.Mutex
	classes []string
	scores  bool
}

type request struct {
	ctx  context.Context
	rows [][]float64
	resp chan response
}

type response struct {
	ans Answer
	err error
}

// OracleOptions configures an Oracle.
type OracleOptions struct {
	// Batch is the most rows per model call (default 256).
	Batch int
	// Concurrency is how many model calls may be in flight (default 2).
	Concurrency int
}

// NewOracle starts an oracle for model. It sends one probe query (row
// probe, counted) to learn the class names; Close stops it.
func NewOracle(ctx context.Context, model inference.Model, probe []float64, opts OracleOptions) (*Oracle, error) {
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	o := &Oracle{model: model, batch: opts.Batch, reqs: make(chan *request), done: make(chan struct{})}
	p, err := inference.PredictRows(ctx, model, [][]float64{probe})
	o.calls.Add(1)
	o.rows.Add(1)
	if err != nil {
		return nil, fmt.Errorf("attack: probe query: %w", err)
	}
	if p.Labels == nil && p.Scores == nil {
		return nil, fmt.Errorf("attack: model returns neither labels nor scores")
	}
	if p.Scores != nil && len(p.ScoreNames) >= 2 {
		o.classes = slices.Clone(p.ScoreNames)
		o.scores = true
	} else if p.Labels == nil {
		return nil, fmt.Errorf("attack: model returns one score per row and no label: not a classifier")
	}
	for range opts.Concurrency {
		o.wg.Add(1)
		go o.dispatch()
	}
	return o, nil
}

// Close stops the dispatchers.
func (o *Oracle) Close() {
	close(o.done)
	o.wg.Wait()
}

// Classes are the class names, in score order. Models that return labels
// only grow the list as new labels are seen.
func (o *Oracle) Classes() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.classes)
}

// ClassIndex returns the index of a class name, adding it for label-only
// models; -1 when a scored model has no such class.
func (o *Oracle) ClassIndex(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.classIndexLocked(name)
}

func (o *Oracle) classIndexLocked(name string) int {
	if i := slices.Index(o.classes, name); i >= 0 {
		return i
	}
	if o.scores {
		return -1
	}
	o.classes = append(o.classes, name)
	return len(o.classes) - 1
}

// HasScores reports whether the model returns class probabilities.
func (o *Oracle) HasScores() bool { return o.scores }

// Rows is the number of rows sent to the model so far (the query count).
func (o *Oracle) Rows() int64 { return o.rows.Load() }

// Calls is the number of model calls (requests) so far.
func (o *Oracle) Calls() int64 { return o.calls.Load() }

// Query answers rows without a budget (for measurements, not attacks).
func (o *Oracle) Query(ctx context.Context, rows [][]float64) (Answer, error) {
	if len(rows) == 0 {
		return Answer{}, nil
	}
	r := &request{ctx: ctx, rows: rows, resp: make(chan response, 1)}
	select {
	case o.reqs <- r:
	case <-ctx.Done():
		return Answer{}, ctx.Err()
	case <-o.done:
		return Answer{}, errors.New("attack: oracle closed")
	}
	select {
	case res := <-r.resp:
		return res.ans, res.err
	case <-ctx.Done():
		return Answer{}, ctx.Err()
	}
}

// dispatch serves requests, merging whatever is queued into one call.
func (o *Oracle) dispatch() {
	defer o.wg.Done()
	for {
		var first *request
		select {
		case first = <-o.reqs:
		case <-o.done:
			return
		}
		batch := []*request{first}
		n := len(first.rows)
	drain:
		for n < o.batch {
			select {
			case r := <-o.reqs:
				batch = append(batch, r)
				n += len(r.rows)
			default:
				break drain
			}
		}
		o.serve(batch, n)
	}
}

func (o *Oracle) serve(batch []*request, n int) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.resp <- response{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	all := make([][]float64, 0, n)
	for _, r := range live {
		all = append(all, r.rows...)
	}
	ans, err := o.predict(live[0].ctx, all)
	off := 0
	for _, r := range live {
		k := len(r.rows)
		if err != nil {
			r.resp <- response{err: err}
			continue
		}
		a := Answer{Labels: ans.Labels[off : off+k]}
		if ans.Scores != nil {
			a.Scores = ans.Scores[off : off+k]
		}
		r.resp <- response{ans: a}
		off += k
	}
}

// predict sends rows in calls of at most o.batch rows.
func (o *Oracle) predict(ctx context.Context, rows [][]float64) (Answer, error) {
	var out Answer
	for start := 0; start < len(rows); start += o.batch {
		end := min(start+o.batch, len(rows))
		o.calls.Add(1)
		o.rows.Add(int64(end - start))
		p, err := inference.PredictRows(ctx, o.model, rows[start:end])
		if err != nil {
			return Answer{}, fmt.Errorf("attack: model query: %w", err)
		}
		k := end - start
		if (p.Labels != nil && len(p.Labels) != k) || (p.Scores != nil && len(p.Scores) != k) {
			return Answer{}, fmt.Errorf("attack: model answered %d rows for %d", max(len(p.Labels), len(p.Scores)), k)
		}
		o.mu.Lock()
		for i := range k {
			lab := -1
			if p.Labels != nil {
				lab = o.classIndexLocked(p.Labels[i])
			}
			if o.scores {
				if len(p.Scores[i]) != len(o.classes) {
					o.mu.Unlock()
					return Answer{}, fmt.Errorf("attack: model returned %d scores, want %d", len(p.Scores[i]), len(o.classes))
				}
				if lab < 0 {
					lab = argmax(p.Scores[i])
				}
				out.Scores = append(out.Scores, p.Scores[i])
			}
			out.Labels = append(out.Labels, lab)
		}
		o.mu.Unlock()
	}
	return out, nil
}

func argmax(s []float64) int {
	best := 0
	for i, v := range s {
		if v > s[best] {
			best = i
		}
	}
	return best
}

// Session is a budgeted view of an oracle for one attack on one sample.
// It is not safe for concurrent use.
type Session struct {
	o      *Oracle
	budget int
	used   int
}

// Session starts a session that may send at most budget rows.
func (o *Oracle) Session(budget int) *Session { return &Session{o: o, budget: budget} }

// Remaining is how many rows the session may still send.
func (s *Session) Remaining() int { return s.budget - s.used }

// Used is how many rows the session has sent.
func (s *Session) Used() int { return s.used }

// Query sends rows if the budget allows all of them; otherwise it sends
// nothing and returns ErrBudget.
func (s *Session) Query(ctx context.Context, rows [][]float64) (Answer, error) {
	if len(rows) > s.Remaining() {
		return Answer{}, fmt.Errorf("%w: %d rows requested, %d of %d left", ErrBudget, len(rows), s.Remaining(), s.budget)
	}
	s.used += len(rows)
	return s.o.Query(ctx, rows)
}
