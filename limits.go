package agenttrust

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/agenttrust/agenttrust/store"
)

// maxLimiters bounds the token buckets kept per policy. Agent and tool
// names are at most 256 bytes, so the table holds at most a few MiB
// whatever callers send.
const maxLimiters = 1 << 14

// sweepEvery is how often, at most, a full table is swept for entries
// that carry no state: a flood of new keys costs O(1) per check, not a
// scan each.
const sweepEvery = time.Second

// Cluster limits: what the client does besides the store's take.
const (
	// prunePeriod is how often, at most, a client asks its store to drop
	// the cluster rate state that holds nothing any more.
	prunePeriod = time.Minute
	// pruneLag keeps state for a while after its TAT has passed, so that
	// no node whose clock is off by less prunes state that another still
	// holds: one running ahead would otherwise hand every agent a fresh
	// burst at each prune. The clocks of a fleet may be 48 hours apart,
	// as for revocations (see revocationSkew).
	pruneLag = revocationSkew
)

// Scopes of a Limit.
const (
	scopeNode    = "node"
	scopeCluster = "cluster"
)

// scope sets where the limit's buckets live, and for a cluster limit its
// time per request.
func (cl *compiledLimit) scope(s string) error {
	switch s {
	case "", scopeNode:
		return nil
	case scopeCluster:
	default:
		return fmt.Errorf("scope %q: want %s or %s", s, scopeNode, scopeCluster)
	}
	cl.cluster = true
	if cl.limit <= 0 {
		return nil // the rate's error is reported
	}
	// Compared as a float first: a rate slow enough that its time per
	// request passes the largest Duration would not survive the
	// conversion (amd64 makes it the smallest int64, clamped to 1ns).
	per := math.Round(float64(time.Second) / float64(cl.limit))
	if per > float64(store.MaxRateWindow/time.Duration(cl.burst)) {
		return fmt.Errorf("scope cluster: burst %d at %.6gs a request is a window longer than %v", cl.burst, per/float64(time.Second), store.MaxRateWindow)
	}
	cl.interval = max(1, time.Duration(per))
	return nil
}

// newPolicyState makes a compiled policy ready to go live on c. A policy
// with a cluster limit needs a store that holds them: over any other it
// is refused, rather than let each node allow the whole rate.
func (c *Client) newPolicyState(cp *compiled) (*policyState, error) {
	l := &limiter{nodes: &c.nodes}
	if cp.cluster != nil {
		cl, ok := c.store.(store.ClusterLimiter)
		if !ok {
			return nil, &PolicyError{Rule: cp.cluster.id, Index: cp.clusterIdx,
				Msg: fmt.Sprintf("scope %s needs a store that holds cluster-wide limits (store.ClusterLimiter); a %T does not", scopeCluster, c.store)}
		}
		l.cluster, l.tenant = cl, c.tenant
	}
	return &policyState{engine: &ruleEngine{compiled: cp}, compiled: cp, limiter: l}, nil
}

// limit is the rate-limit phase: a deny naming the limit that refused
// (agent, tool), or no verdict. A cluster limit the store cannot answer
// for denies with ErrStoreUnavailable.
func limit(ctx context.Context, ps *policyState, agent, tool string, now time.Time) (verdict, error) {
	if ps.compiled == nil || ps.compiled.nLimit == 0 {
		return verdict{}, nil
	}
	l, err := ps.limiter.allow(ctx, ps.compiled, agent, tool, now)
	if err != nil {
		return verdict{done: true, reason: reasonStoreDown, rule: l.id}, err
	}
	if l != nil {
		return verdict{done: true, reason: reasonRateLimited, rule: l.id}, nil
	}
	return verdict{}, nil
}

// limiter asks the node buckets for the limits of node scope, and the
// store for those of cluster scope. It is replaced with the policy; the
// state of both outlives it: cluster state stays in the store, node
// buckets in the client (nodeBuckets), so a reload resets neither.
type limiter struct {
	nodes *nodeBuckets

	cluster store.ClusterLimiter // nil when every limit is node-local
	tenant  string
	pruned  atomic.Int64 // Unix nanoseconds of the last prune
}

// nodeBuckets holds one token bucket per (limit id, agent, tool) of node
// scope, for every policy the client has had. A bucket is found by its
// limit's id, and takes the rate and burst of the policy a check reads:
// a policy save or reload, whatever it changes, never refills a bucket an
// agent has drawn on (a limit it tightens applies to what is left).
//
// The table is bounded: when it is full and no bucket is full again (a
// full bucket carries no state and is dropped), a new (agent, tool) pair
// shares one overflow bucket per limit. A flood of new names thus slows
// the newcomers together; it never resets a bucket in use, so no caller
// can earn tokens by crowding out its own bucket.
type nodeBuckets struct {
	mu       sync.Mutex
	buckets  map[bucketKey]*rate.Limiter
	overflow map[string]*rate.Limiter
	swept    time.Time
	// latest is the latest time a bucket was given (see take).
	latest time.Time
}

type bucketKey struct {
	limit, agent, tool string
}

// maxClusterLimits bounds the cluster limits of a policy, so that one
// check makes at most this many round trips for them.
const maxClusterLimits = 8

// allow takes one token from every limit matching (agent, tool): first
// from the node buckets, then, if none refused, from the store for the
// cluster limits. It returns the first limit that refused, or nil; with
// an error, the cluster limit the store failed on. A refusal takes no
// token from the limits after it; tokens taken before it stay taken,
// which can only slow an agent down, never speed it up.
func (l *limiter) allow(ctx context.Context, c *compiled, agent, tool string, now time.Time) (*compiledLimit, error) {
	var buckets [maxBuckets]*list[*compiledLimit]
	var cluster [maxClusterLimits]*compiledLimit
	nc := 0
	// A limit is filed under every index key of its patterns (an exact
	// name and a glob matching the same agent are two keys), so one check
	// can meet it more than once: it takes one token all the same.
	var seenBuf [16]*compiledLimit
	seen := seenBuf[:0]
	n := c.limits.candidates(agent, tool, &buckets)
	for _, b := range buckets[:n] {
		for i := range b.es {
			e := &b.es[i]
			cl := e.item
			if e.checkAgent && !matchAny(cl.agents, agent) || e.checkTool && !matchAny(cl.tools, tool) {
				continue
			}
			if slices.Contains(seen, cl) {
				continue
			}
			seen = append(seen, cl)
			if cl.cluster {
				if nc == len(cluster) { // compilePolicy bounds their number
					return cl, fmt.Errorf("%w: more than %d cluster limits match one check", ErrPolicyEngine, maxClusterLimits)
				}
				cluster[nc] = cl
				nc++
				continue
			}
			if !l.nodes.take(cl, agent, tool, now) {
				return cl, nil
			}
		}
	}
	if nc == 0 {
		return nil, nil
	}
	if l.cluster == nil { // newPolicyState refuses this; never allow
		return cluster[0], fmt.Errorf("%w: no store holds cluster limit %q", ErrStoreUnavailable, cluster[0].id)
	}
	slices.SortFunc(cluster[:nc], func(a, b *compiledLimit) int { return a.order - b.order })
	key := agent + " " + tool // names hold no space
	for _, cl := range cluster[:nc] {
		ok, err := l.cluster.TakeRate(ctx, store.RateTake{Tenant: l.tenant, Limit: cl.id, Key: key, Interval: cl.interval, Burst: cl.burst, Now: now})
		if err != nil {
			return cl, storeErr("take cluster limit", err)
		}
		if !ok {
			return cl, nil
		}
	}
	l.prune(ctx, now)
	return nil, nil
}

// prune asks the store, at most once per prunePeriod, to drop the
// tenant's rate state whose TAT is more than pruneLag past: the check
// that happens to run it waits for one more statement. Its failure
// changes no decision.
func (l *limiter) prune(ctx context.Context, now time.Time) {
	last := l.pruned.Load()
	if now.UnixNano()-last < int64(prunePeriod) || !l.pruned.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	_, _ = l.cluster.PruneRates(ctx, l.tenant, now.Add(-pruneLag))
}

// holdsState reports whether a node bucket is not full at now: the
// state a new client, starting every bucket full, would not have.
func (l *nodeBuckets) holdsState(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.latest) {
		now = l.latest // as take reads it
	}
	for _, b := range l.buckets {
		if b.TokensAt(now) < float64(b.Burst()) {
			return true
		}
	}
	for _, b := range l.overflow {
		if b.TokensAt(now) < float64(b.Burst()) {
			return true
		}
	}
	return false
}

// take takes one token from the bucket of (cl, agent, tool) at now, or
// at the latest time a bucket was given when that is later. A check reads
// the clock when it begins and reaches its buckets later, so checks come
// here out of the order of their times (one held up by a slow store or
// credential arrives after checks that began later); a token bucket
// given a time older than its last moves its clock back, and the next
// check is credited that stretch of time again. Given times never go
// back, each stretch counts once.
func (l *nodeBuckets) take(cl *compiledLimit, agent, tool string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.latest) {
		now = l.latest
	} else {
		l.latest = now
	}
	b := l.bucket(cl, agent, tool, now)
	// A bucket made under an earlier policy, whose limit of this id had
	// another rate or burst: what it holds now, under this one's.
	if b.Limit() != cl.limit {
		b.SetLimitAt(now, cl.limit)
	}
	if b.Burst() != cl.burst {
		b.SetBurstAt(now, cl.burst)
	}
	return b.AllowN(now, 1)
}

// bucket returns the bucket of (cl, agent, tool); l.mu is held.
func (l *nodeBuckets) bucket(cl *compiledLimit, agent, tool string, now time.Time) *rate.Limiter {
	k := bucketKey{cl.id, agent, tool}
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
		b := l.overflow[cl.id]
		if b == nil {
			if l.overflow == nil {
				l.overflow = map[string]*rate.Limiter{}
			}
			b = rate.NewLimiter(cl.limit, cl.burst)
			l.overflow[cl.id] = b
		}
		return b
	}
	b := rate.NewLimiter(cl.limit, cl.burst)
	// A pair that drew on the overflow bucket while the table was full
	// must not come back to a full bucket of its own once there is room:
	// that would be a second burst, and an agent could earn one at will
	// by crowding its own pair out with names of its own. Which pairs drew
	// on it is not kept (that would be unbounded), so every new bucket of
	// the limit starts no fuller than the overflow, which refills at the
	// limit's rate: newcomers just after a flood are slowed together, as
	// during it.
	if o := l.overflow[cl.id]; o != nil {
		if spent := float64(cl.burst) - o.TokensAt(now); spent > 0 {
			b.AllowN(now, min(cl.burst, int(math.Ceil(spent))))
		}
	}
	// Copies: the caller's strings may share memory with a larger buffer.
	l.buckets[bucketKey{cl.id, strings.Clone(agent), strings.Clone(tool)}] = b
	return b
}
