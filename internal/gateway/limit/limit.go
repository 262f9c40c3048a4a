// Package limit enforces per-identity request limits for the gateway:
// token-bucket rates, query budgets per fixed window, and penalties
// (block or throttle for a while) set by detectors.
//
// Two backends implement Limiter with the same semantics: Memory, in
// process, for one gateway; and Redis, whose state every gateway replica
// shares, each check one Lua script so that it is atomic across replicas.
package limit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Rule is the limits for one identity on one model.
type Rule struct {
	// Rate is requests per second refilled into the bucket; 0 means no
	// rate limit.
	Rate float64
	// Burst is the bucket capacity (default max(1, Rate)).
	Burst float64
	// ThrottleRate and ThrottleBurst replace Rate and Burst while the
	// identity is throttled (defaults: a tenth of Rate, or 1 request/s).
	ThrottleRate, ThrottleBurst float64
	// Budget is how many queries (rows) an identity may send per Window;
	// 0 means no budget.
	Budget int64
	Window time.Duration
}

func (r Rule) normalized() Rule {
	if r.Burst <= 0 {
		r.Burst = math.Max(1, r.Rate)
	}
	if r.ThrottleRate <= 0 {
		r.ThrottleRate = 1
		if r.Rate > 0 {
			r.ThrottleRate = math.Max(r.Rate/10, 0.01)
		}
	}
	if r.ThrottleBurst <= 0 {
		r.ThrottleBurst = 1
	}
	if r.Budget > 0 && r.Window <= 0 {
		r.Window = 24 * time.Hour
	}
	return r
}

// Reasons a request is refused.
const (
	ReasonRate    = "rate"
	ReasonBudget  = "budget"
	ReasonBlocked = "blocked"
)

// Result of a check.
type Result struct {
	Allowed    bool
	Reason     string        // why not allowed
	RetryAfter time.Duration // when to try again, if not allowed
	Remaining  int64         // budget left in the window; -1 without a budget
}

// Penalty is a detector's sanction on an identity.
type Penalty string

// Penalties.
const (
	PenaltyNone     Penalty = ""
	PenaltyThrottle Penalty = "throttle"
	PenaltyBlock    Penalty = "block"
)

// Limiter checks and records requests.
type Limiter interface {
	// Allow checks one request of cost queries (rows) for key under rule
	// and, if allowed, takes one token and cost from the budget. A
	// blocked key is refused; a throttled key gets the throttle rate.
	Allow(ctx context.Context, key string, rule Rule, cost int64) (Result, error)
	// Penalize blocks or throttles key for ttl.
	Penalize(ctx context.Context, key string, p Penalty, ttl time.Duration) error
	// Penalty reports key's current penalty and how long it lasts.
	Penalty(ctx context.Context, key string) (Penalty, time.Duration, error)
	Close() error
}

// ErrInvalid reports an invalid argument.
var ErrInvalid = errors.New("limit: invalid argument")

func check(key string, cost int64) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w: key must have 1 to 1024 bytes", ErrInvalid)
	}
	if cost < 0 {
		return fmt.Errorf("%w: negative cost", ErrInvalid)
	}
	return nil
}

// Memory is an in-process Limiter. It tracks at most MaxKeys keys;
// beyond that idle keys, then arbitrary ones, are forgotten.
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [64]memShard
	max    int
}

type memShard struct {
	mu sync.Mutex
	m  map[string]*memEntry
}

type memEntry struct {
	tokens    float64
	ts        time.Time
	window    int64 // budget window index
	used      int64
	penalty   Penalty
	penaltyTo time.Time
	seen      time.Time
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) MemoryOption { return func(m *Memory) { m.now = now } }

// WithMaxKeys bounds the keys tracked (default 100,000).
func WithMaxKeys(n int) MemoryOption { return func(m *Memory) { m.max = n } }

// NewMemory returns an in-process limiter.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{now: time.Now, seed: maphash.MakeSeed(), max: 100000}
	for _, o := range opts {
		o(m)
	}
	for i := range m.shards {
		m.shards[i].m = map[string]*memEntry{}
	}
	return m
}

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

func (m *Memory) entry(s *memShard, key string, now time.Time) *memEntry {
	e := s.m[key]
	if e != nil {
		return e
	}
	if per := max(1, m.max/len(m.shards)); len(s.m) >= per {
		evicted := false
		for k, o := range s.m {
			if now.Sub(o.seen) > time.Hour && now.After(o.penaltyTo) {
				delete(s.m, k)
				evicted = true
			}
		}
		if !evicted {
			for k := range s.m {
				delete(s.m, k)
				break
			}
		}
	}
	e = &memEntry{tokens: math.NaN(), window: -1}
	s.m[key] = e
	return e
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, rule Rule, cost int64) (Result, error) {
	if err := check(key, cost); err != nil {
		return Result{}, err
	}
	rule = rule.normalized()
	now := m.now()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := m.entry(s, key, now)
	e.seen = now
	rate, burst := rule.Rate, rule.Burst
	if e.penalty != PenaltyNone && now.Before(e.penaltyTo) {
		switch e.penalty {
		case PenaltyBlock:
			return Result{Reason: ReasonBlocked, RetryAfter: e.penaltyTo.Sub(now), Remaining: -1}, nil
		case PenaltyThrottle:
			rate, burst = rule.ThrottleRate, rule.ThrottleBurst
		}
	}
	res := Result{Allowed: true, Remaining: -1}
	var idx int64
	if rule.Budget > 0 {
		w := rule.Window.Milliseconds()
		ms := now.UnixMilli()
		idx = ms / w
		if e.window != idx {
			e.window, e.used = idx, 0
		}
		if e.used+cost > rule.Budget {
			return Result{Reason: ReasonBudget, RetryAfter: time.Duration((idx+1)*w-ms) * time.Millisecond, Remaining: rule.Budget - e.used}, nil
		}
	}
	if rate > 0 {
		if math.IsNaN(e.tokens) {
			e.tokens, e.ts = burst, now
		}
		e.tokens = math.Min(burst, e.tokens+now.Sub(e.ts).Seconds()*rate)
		e.ts = now
		if e.tokens < 1 {
			wait := time.Duration(math.Ceil((1-e.tokens)/rate*1000)) * time.Millisecond
			return Result{Reason: ReasonRate, RetryAfter: wait, Remaining: -1}, nil
		}
		e.tokens--
	}
	if rule.Budget > 0 {
		e.used += cost
		res.Remaining = rule.Budget - e.used
	}
	return res, nil
}

// Penalize implements Limiter.
func (m *Memory) Penalize(_ context.Context, key string, p Penalty, ttl time.Duration) error {
	if err := check(key, 0); err != nil {
		return err
	}
	now := m.now()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := m.entry(s, key, now)
	e.seen = now
	e.penalty, e.penaltyTo = p, now.Add(ttl)
	return nil
}

// Penalty implements Limiter.
func (m *Memory) Penalty(_ context.Context, key string) (Penalty, time.Duration, error) {
	now := m.now()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil || e.penalty == PenaltyNone || !now.Before(e.penaltyTo) {
		return PenaltyNone, 0, nil
	}
	return e.penalty, e.penaltyTo.Sub(now), nil
}

// Close implements Limiter.
func (m *Memory) Close() error { return nil }
