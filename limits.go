package agenttrust

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the token buckets kept per policy. Agent and tool
// names are at most 256 bytes, so the table holds at most a few MiB
// whatever callers send.
const maxLimiters = 1 << 14

// sweepEvery is how often, at most, a full table is swept for entries
// that carry no state: a flood of new keys costs O(1) per check, not a
// scan each.
const sweepEvery = time.Second

// limit is the rate-limit phase: a deny naming the limit that refused
// (agent, tool), or no verdict.
func limit(ps *policyState, agent, tool string, now time.Time) verdict {
	if ps.compiled == nil || ps.compiled.nLimit == 0 {
		return verdict{}
	}
	if l := ps.limiter.allow(ps.compiled, agent, tool, now); l != nil {
		return verdict{done: true, reason: reasonRateLimited, rule: l.id}
	}
	return verdict{}
}

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
