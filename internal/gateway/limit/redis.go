package limit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// allowScript checks penalty, budget and token bucket in one atomic step.
// Time comes from the Redis server, so replicas agree on it.
//
//	KEYS: bucket, budget (prefix; the window index is appended), penalty
//	ARGV: rate, burst, throttle rate, throttle burst, budget, window ms, cost
//	returns {allowed 0/1, reason, retry-after ms, remaining budget or -1}
var allowScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local pen = redis.call('GET', KEYS[3])
if pen == 'block' then
  local ttl = redis.call('PTTL', KEYS[3])
  if ttl > 0 then return {0, 'blocked', ttl, -1} end
elseif pen == 'throttle' then
  rate, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
end
local budget, window, cost = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local bkey
if budget > 0 then
  local idx = math.floor(now / window)
  bkey = KEYS[2] .. ':' .. idx
  local used = tonumber(redis.call('GET', bkey) or '0')
  if used + cost > budget then
    return {0, 'budget', (idx + 1) * window - now, budget - used}
  end
end
if rate > 0 then
  local b = redis.call('HMGET', KEYS[1], 't', 'ts')
  local tokens, ts = tonumber(b[1]), tonumber(b[2])
  if tokens == nil or ts == nil then tokens, ts = burst, now end
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
  local ttl = math.ceil(burst * 1000 / rate) + 1000
  if tokens < 1 then
    redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
    redis.call('PEXPIRE', KEYS[1], ttl)
    return {0, 'rate', math.ceil((1 - tokens) * 1000 / rate), -1}
  end
  redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if budget > 0 then
  local used = redis.call('INCRBY', bkey, cost)
  if used == cost then redis.call('PEXPIRE', bkey, window + 1000) end
  return {1, 'ok', 0, budget - used}
end
return {1, 'ok', 0, -1}
`)

// Redis is a Limiter whose state lives in Redis, shared by every gateway
// using the same server and prefix. Keys are prefix + "{" + key + "}:…",
// so one identity's keys share a cluster hash slot.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	owned  bool
}

// NewRedis returns a limiter over client; keys start with prefix.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: client, prefix: prefix}
}

// DialRedis connects to a redis:// or rediss:// URL and checks it answers.
func DialRedis(ctx context.Context, url, prefix string) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis %s: %w", opt.Addr, err)
	}
	return &Redis{c: c, prefix: prefix, owned: true}, nil
}

// Client returns the underlying client.
func (r *Redis) Client() redis.UniversalClient { return r.c }

func (r *Redis) key(key, kind string) string { return r.prefix + "{" + key + "}:" + kind }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, rule Rule, cost int64) (Result, error) {
	if err := check(key, cost); err != nil {
		return Result{}, err
	}
	rule = rule.normalized()
	keys := []string{r.key(key, "bucket"), r.key(key, "budget"), r.key(key, "penalty")}
	args := []any{ftoa(rule.Rate), ftoa(rule.Burst), ftoa(rule.ThrottleRate), ftoa(rule.ThrottleBurst),
		rule.Budget, max(rule.Window.Milliseconds(), 1), cost}
	v, err := allowScript.Run(ctx, r.c, keys, args...).Slice()
	if err != nil {
		return Result{}, fmt.Errorf("limit: redis: %w", err)
	}
	if len(v) != 4 {
		return Result{}, errors.New("limit: redis: unexpected script reply")
	}
	ok, _ := v[0].(int64)
	reason, _ := v[1].(string)
	wait, _ := v[2].(int64)
	rem, _ := v[3].(int64)
	res := Result{Allowed: ok == 1, RetryAfter: time.Duration(wait) * time.Millisecond, Remaining: rem}
	if !res.Allowed {
		res.Reason = reason
	}
	return res, nil
}

// Penalize implements Limiter.
func (r *Redis) Penalize(ctx context.Context, key string, p Penalty, ttl time.Duration) error {
	if err := check(key, 0); err != nil {
		return err
	}
	if p == PenaltyNone {
		return r.c.Del(ctx, r.key(key, "penalty")).Err()
	}
	return r.c.Set(ctx, r.key(key, "penalty"), string(p), ttl).Err()
}

// Penalty implements Limiter.
func (r *Redis) Penalty(ctx context.Context, key string) (Penalty, time.Duration, error) {
	k := r.key(key, "penalty")
	pipe := r.c.Pipeline()
	g := pipe.Get(ctx, k)
	t := pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return PenaltyNone, 0, fmt.Errorf("limit: redis: %w", err)
	}
	p, err := g.Result()
	if errors.Is(err, redis.Nil) {
		return PenaltyNone, 0, nil
	}
	return Penalty(p), t.Val(), nil
}

// Close closes the client if DialRedis opened it.
func (r *Redis) Close() error {
	if r.owned {
		return r.c.Close()
	}
	return nil
}
