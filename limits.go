package agenttrust

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the token buckets kept per policy, and maxBreakers
// the agents the breaker counts. Agent and tool names are at most 256
// bytes, so each table holds at most a few MiB whatever callers send.
const (
	maxLimiters = 1 << 14
	maxBreakers = 1 << 14
)

// sweepEvery is how often, at most, a full table is swept for entries
// that carry no state: a flood of new keys costs O(1) per check, not a
// scan each.
const sweepEvery = time.Second

// limiter holds one token bucket per (limit, agent, tool). It is replaced
// with the policy, so a reload starts buckets afresh.
//
// The table is bounded: when it is full and no bucket is full again (a
// full bucket carries no state and is dropped), a new (agent, tool) pair
// shares one overflow bucket per limit. A flood of new names thus slows
// the newcomers together; it never resets a bucket in use, so no caller
// can earn tokens by crowding out its own bucket.
type limiter struct {
	mu       sync.Mutex
	buckets  map[bucketKey]*rate.Limiter
	overflow map[*compiledLimit]*rate.Limiter
	swept    time.Time
}

type bucketKey struct {
	limit       *compiledLimit
	agent, tool string
}

// allow takes one token from every limit matching (agent, tool). It
// returns the first limit that refused, or nil. A refusal takes no token
// from the other limits' buckets; tokens taken before it stay taken, which
// can only slow an agent down, never speed it up.
func (l *limiter) allow(c *compiled, agent, tool string, now time.Time) *compiledLimit {
	var buckets [maxBuckets][]entry[*compiledLimit]
	n := c.limits.candidates(agent, tool, &buckets)
	for _, es := range buckets[:n] {
		for i := range es {
			e := &es[i]
			cl := e.item
			if e.checkAgent && !matchAny(cl.agents, agent) || e.checkTool && !matchAny(cl.tools, tool) {
				continue
			}
			if !l.bucket(cl, agent, tool, now).AllowN(now, 1) {
				return cl
			}
		}
	}
	return nil
}

func (l *limiter) bucket(cl *compiledLimit, agent, tool string, now time.Time) *rate.Limiter {
	k := bucketKey{cl, agent, tool}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[k]; b != nil {
		return b
	}
	if l.buckets == nil {
		l.buckets = map[bucketKey]*rate.Limiter{}
	}
	if len(l.buckets) >= maxLimiters && now.Sub(l.swept) >= sweepEvery {
		l.swept = now
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.buckets, k)
			}
		}
	}
	if len(l.buckets) >= maxLimiters {
		b := l.overflow[cl]
		if b == nil {
			if l.overflow == nil {
				l.overflow = map[*compiledLimit]*rate.Limiter{}
			}
			b = rate.NewLimiter(cl.limit, cl.burst)
			l.overflow[cl] = b
		}
		return b
	}
	b := rate.NewLimiter(cl.limit, cl.burst)
	// Copies: the caller's strings may share memory with a larger buffer.
	l.buckets[bucketKey{cl, strings.Clone(agent), strings.Clone(tool)}] = b
	return b
}

// BreakerConfig configures the runaway breaker, which suspends an agent
// that is denied too often or calls too fast: the signature of a loop gone
// wrong or an injected instruction being retried. A zero field disables
// that trigger.
type BreakerConfig struct {
	MaxDenials   int           // denials within DenialWindow that trip it
	DenialWindow time.Duration // default one minute
	MaxCalls     int           // checks within CallWindow that trip it
	CallWindow   time.Duration // default one second
}

// breaker counts per agent in fixed windows. It counts at most
// maxBreakers agents: when the table is full, agents idle past both
// windows are dropped (at most once per sweepEvery), and if none is, one
// counter picked at random makes room.
type breaker struct {
	cfg    BreakerConfig
	mu     sync.Mutex
	agents map[string]*breakerCount
	swept  time.Time
}

type breakerCount struct {
	denyStart, callStart time.Time
	denies, calls        int
}

func newBreaker(cfg BreakerConfig) (*breaker, error) {
	if cfg.MaxDenials < 0 || cfg.MaxCalls < 0 || cfg.DenialWindow < 0 || cfg.CallWindow < 0 {
		return nil, fmt.Errorf("%w: negative breaker setting", ErrInvalidConfig)
	}
	if cfg.MaxDenials == 0 && cfg.MaxCalls == 0 {
		return nil, nil
	}
	if cfg.DenialWindow == 0 {
		cfg.DenialWindow = time.Minute
	}
	if cfg.CallWindow == 0 {
		cfg.CallWindow = time.Second
	}
	return &breaker{cfg: cfg, agents: map[string]*breakerCount{}}, nil
}

// observe counts one decision for agent and returns a non-empty reason when
// this decision trips the breaker. Counters reset after a trip.
func (b *breaker) observe(agent string, now time.Time, denied bool) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.agents[agent]
	if c == nil {
		if len(b.agents) >= maxBreakers && now.Sub(b.swept) >= sweepEvery {
			b.swept = now
			for a, old := range b.agents {
				if now.Sub(old.callStart) > b.cfg.CallWindow && now.Sub(old.denyStart) > b.cfg.DenialWindow {
					delete(b.agents, a)
				}
			}
		}
		if len(b.agents) >= maxBreakers {
			for a := range b.agents {
				delete(b.agents, a)
				break
			}
		}
		c = &breakerCount{denyStart: now, callStart: now}
		b.agents[strings.Clone(agent)] = c
	}
	if b.cfg.MaxCalls > 0 {
		if now.Sub(c.callStart) >= b.cfg.CallWindow {
			c.callStart, c.calls = now, 0
		}
		c.calls++
		if c.calls > b.cfg.MaxCalls {
			delete(b.agents, agent)
			return fmt.Sprintf("runaway breaker: more than %d calls within %s", b.cfg.MaxCalls, b.cfg.CallWindow)
		}
	}
	if b.cfg.MaxDenials > 0 && denied {
		if now.Sub(c.denyStart) >= b.cfg.DenialWindow {
			c.denyStart, c.denies = now, 0
		}
		c.denies++
		if c.denies >= b.cfg.MaxDenials {
			delete(b.agents, agent)
			return fmt.Sprintf("runaway breaker: %d denials within %s", c.denies, b.cfg.DenialWindow)
		}
	}
	return ""
}
