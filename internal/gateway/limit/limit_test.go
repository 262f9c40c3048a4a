package limit

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisAddr is the development Redis (see ARCHITECTURE.md).
func redisAddr() string {
	if a := os.Getenv("MLSEC_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// testRedis returns a limiter on the real Redis with a prefix unique to t.
func testRedis(t testing.TB) *Redis {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr()})
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Skipf("redis not reachable at %s: %v", redisAddr(), err)
	}
	prefix := fmt.Sprintf("mlsec-test:limit:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return NewRedis(c, prefix)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestMemoryBucketAndBudget(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := NewMemory(WithClock(clk.now))
	rule := Rule{Rate: 2, Burst: 3}
	for i := range 3 {
		if r, _ := m.Allow(ctx, "a", rule, 1); !r.Allowed {
			t.Fatalf("request %d refused: %+v", i, r)
		}
	}
	r, _ := m.Allow(ctx, "a", rule, 1)
	if r.Allowed || r.Reason != ReasonRate || r.RetryAfter != 500*time.Millisecond {
		t.Fatalf("4th request: %+v, want refused for rate with 500ms wait", r)
	}
	if r, _ := m.Allow(ctx, "b", rule, 1); !r.Allowed {
		t.Fatal("other key shares the bucket")
	}
	clk.add(500 * time.Millisecond)
	if r, _ := m.Allow(ctx, "a", rule, 1); !r.Allowed {
		t.Fatalf("after refill: %+v", r)
	}

	budget := Rule{Budget: 10, Window: time.Hour}
	for i, tc := range []struct {
		cost    int64
		allowed bool
		remain  int64
	}{{4, true, 6}, {6, true, 0}, {1, false, 0}} {
		r, _ := m.Allow(ctx, "c", budget, tc.cost)
		if r.Allowed != tc.allowed || r.Remaining != tc.remain {
			t.Fatalf("step %d: %+v, want allowed=%v remaining=%d", i, r, tc.allowed, tc.remain)
		}
		if !r.Allowed && (r.Reason != ReasonBudget || r.RetryAfter <= 0 || r.RetryAfter > time.Hour) {
			t.Fatalf("step %d: %+v", i, r)
		}
	}
	clk.add(time.Hour)
	if r, _ := m.Allow(ctx, "c", budget, 1); !r.Allowed {
		t.Fatalf("next window: %+v", r)
	}
}

func TestMemoryPenalties(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := NewMemory(WithClock(clk.now))
	rule := Rule{Rate: 100, Burst: 100, ThrottleRate: 1, ThrottleBurst: 1}
	if err := m.Penalize(ctx, "x", PenaltyThrottle, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r, _ := m.Allow(ctx, "x", rule, 1); !r.Allowed {
		t.Fatalf("throttled first: %+v", r)
	}
	if r, _ := m.Allow(ctx, "x", rule, 1); r.Allowed || r.Reason != ReasonRate {
		t.Fatalf("throttled second: %+v", r)
	}
	_ = m.Penalize(ctx, "x", PenaltyBlock, time.Minute)
	if p, ttl, _ := m.Penalty(ctx, "x"); p != PenaltyBlock || ttl != time.Minute {
		t.Fatalf("penalty %q %v", p, ttl)
	}
	clk.add(2 * time.Second)
	if r, _ := m.Allow(ctx, "x", rule, 1); r.Allowed || r.Reason != ReasonBlocked || r.RetryAfter != 58*time.Second {
		t.Fatalf("blocked: %+v", r)
	}
	clk.add(time.Minute)
	if r, _ := m.Allow(ctx, "x", rule, 1); !r.Allowed {
		t.Fatalf("after block: %+v", r)
	}
}

func TestMemoryBounded(t *testing.T) {
	m := NewMemory(WithMaxKeys(128))
	for i := range 10000 {
		_, _ = m.Allow(context.Background(), fmt.Sprint("k", i), Rule{Rate: 1}, 1)
	}
	n := 0
	for i := range m.shards {
		n += len(m.shards[i].m)
	}
	if n > 128 {
		t.Fatalf("%d keys tracked, bound 128", n)
	}
}

func TestRedisBucketBudgetPenalty(t *testing.T) {
	ctx := context.Background()
	r := testRedis(t)
	rule := Rule{Rate: 0.5, Burst: 3}
	for i := range 3 {
		if res, err := r.Allow(ctx, "a", rule, 1); err != nil || !res.Allowed {
			t.Fatalf("request %d: %+v %v", i, res, err)
		}
	}
	res, err := r.Allow(ctx, "a", rule, 1)
	if err != nil || res.Allowed || res.Reason != ReasonRate || res.RetryAfter <= 0 || res.RetryAfter > 2*time.Second {
		t.Fatalf("4th: %+v %v", res, err)
	}
	budget := Rule{Budget: 5, Window: time.Hour}
	if res, _ := r.Allow(ctx, "b", budget, 5); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("budget spend: %+v", res)
	}
	if res, _ := r.Allow(ctx, "b", budget, 1); res.Allowed || res.Reason != ReasonBudget || res.RetryAfter <= 0 {
		t.Fatalf("over budget: %+v", res)
	}
	if err := r.Penalize(ctx, "c", PenaltyBlock, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.Allow(ctx, "c", Rule{}, 1); res.Allowed || res.Reason != ReasonBlocked || res.RetryAfter <= 9*time.Second {
		t.Fatalf("blocked: %+v", res)
	}
	if p, ttl, err := r.Penalty(ctx, "c"); err != nil || p != PenaltyBlock || ttl <= 0 {
		t.Fatalf("penalty %q %v %v", p, ttl, err)
	}
	if p, _, err := r.Penalty(ctx, "nobody"); err != nil || p != PenaltyNone {
		t.Fatalf("no penalty: %q %v", p, err)
	}
	_ = r.Penalize(ctx, "d", PenaltyThrottle, 10*time.Second)
	tr := Rule{Rate: 1000, Burst: 1000, ThrottleRate: 0.1, ThrottleBurst: 1}
	if res, _ := r.Allow(ctx, "d", tr, 1); !res.Allowed {
		t.Fatalf("throttled first: %+v", res)
	}
	if res, _ := r.Allow(ctx, "d", tr, 1); res.Allowed || res.Reason != ReasonRate {
		t.Fatalf("throttled second: %+v", res)
	}
}

// TestRedisAtomicAcrossClients spends one budget from many goroutines and
// two clients at once: exactly the budget is granted.
func TestRedisAtomicAcrossClients(t *testing.T) {
	ctx := context.Background()
	a := testRedis(t)
	c2 := redis.NewClient(&redis.Options{Addr: redisAddr()})
	defer c2.Close()
	b := NewRedis(c2, a.prefix)
	rule := Rule{Budget: 50, Window: time.Hour}
	var mu sync.Mutex
	granted := 0
	var wg sync.WaitGroup
	for i := range 8 {
		l := Limiter(a)
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			for range 20 {
				res, err := l.Allow(ctx, "shared", rule, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if granted != 50 {
		t.Fatalf("granted %d of 160 against a budget of 50", granted)
	}
}

func TestInvalid(t *testing.T) {
	for _, l := range []Limiter{NewMemory()} {
		if _, err := l.Allow(context.Background(), "", Rule{}, 1); err == nil {
			t.Error("empty key accepted")
		}
		if _, err := l.Allow(context.Background(), "k", Rule{}, -1); err == nil {
			t.Error("negative cost accepted")
		}
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory()
	rule := Rule{Rate: 1e9, Burst: 1e9, Budget: 1 << 60, Window: time.Hour}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = m.Allow(context.Background(), "k", rule, 1)
		}
	})
}

func BenchmarkRedisAllow(b *testing.B) {
	r := testRedis(b)
	rule := Rule{Rate: 1e9, Burst: 1e9, Budget: 1 << 60, Window: time.Hour}
	for b.Loop() {
		_, _ = r.Allow(context.Background(), "k", rule, 1)
	}
}
