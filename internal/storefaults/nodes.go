package storefaults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/store"
)

// NodesConfig is how a store runs the two-node suite: two agenttrust
// clients, each with its own store and connections, on one database.
type NodesConfig struct {
	// Pair returns two stores on one fresh database, closed when t ends.
	Pair func(t *testing.T) (a, b store.Store)
	// Faulty returns a store on a fresh database reached through a new
	// proxy, with its query timeout set to timeout, and a second store on
	// the same database reached directly.
	Faulty func(t *testing.T, timeout time.Duration) (through, direct store.Store, p *faultproxy.Proxy)
	// StrictTrials is how many revocations the strict test makes.
	StrictTrials int
	// NotifyRounds is how many suspensions the notify test makes, and
	// MaxStaleness the notify-mode bound node B runs with; NotifyP99, when
	// set, bounds the 99th percentile of Suspend-to-Deny.
	NotifyRounds int
	MaxStaleness time.Duration
	NotifyP99    time.Duration
	// Race reports a -race build: several times slower, so time bounds
	// that mean nothing there are not checked.
	Race bool
	// Margin is how late past the query timeout a denial may come on a
	// busy machine.
	Margin time.Duration
}

// Nodes runs the two-node suite as subtests of t: strict mode sees a
// revocation on the very next check of the other node; notify mode sees
// a suspension within MaxStaleness; under each fault of the link no check
// is allowed and, once it heals, every decision is audited exactly once.
func Nodes(t *testing.T, c NodesConfig) {
	t.Run("Strict", func(t *testing.T) { nodesStrict(t, c) })
	t.Run("Notify", func(t *testing.T) { nodesNotify(t, c) })
	t.Run("Faults", func(t *testing.T) { nodesFaults(t, c) })
}

const nodePolicy = `
rules:
  - id: work
    effect: allow
    agents: ["worker-*"]
    tools: [work]
`

// NodeClient is a client on st with a policy that allows Work, auditing
// to st under chain.
func NodeClient(t *testing.T, st store.Store, chain string, opts ...agenttrust.Option) *agenttrust.Client {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(nodePolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := []agenttrust.Option{agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: chain, Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}})}
	cl, err := agenttrust.New(st, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// Work is a request NodeClient's policy allows, in session.
func Work(session string) agenttrust.Request {
	return agenttrust.Request{AgentID: "worker-1", Tool: "work", SessionID: session}
}

// Percentiles summarises ds (sorted in place) for a test log.
func Percentiles(ds []time.Duration) string {
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v", len(ds), at(0.50), at(0.90), at(0.99), ds[len(ds)-1])
}

// After Revoke returns on node A, the very next Check on node B denies,
// every time.
func nodesStrict(t *testing.T, c NodesConfig) {
	sa, sb := c.Pair(t)
	a := NodeClient(t, sa, "node-a")
	b := NodeClient(t, sb, "node-b")
	ctx := context.Background()
	allowedBefore := 0
	for i := range c.StrictTrials {
		session := fmt.Sprintf("s-%d", i)
		if i%100 == 0 { // now and then, show the request was allowed before
			if d, err := b.Check(ctx, Work(session)); err != nil || !d.Allowed() {
				t.Fatalf("trial %d before revoke: %v %v", i, d.Effect, err)
			}
			allowedBefore++
		}
		if err := a.Revoke(ctx, session); err != nil {
			t.Fatal(err)
		}
		if d, err := b.Check(ctx, Work(session)); d.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
			t.Fatalf("trial %d: node B allowed a session node A had revoked: %v %v", i, d.Effect, err)
		}
	}
	t.Logf("strict mode: %d/%d checks on node B denied right after node A's Revoke returned (%d allowed beforehand)",
		c.StrictTrials, c.StrictTrials, allowedBefore)
}

// Node B keeps blocks in memory, fed by the store's change feed; every
// suspension on node A is honoured by node B within MaxStaleness.
func nodesNotify(t *testing.T, c NodesConfig) {
	maxStale := c.MaxStaleness
	if c.Race {
		// Several times slower: a view this fresh cannot always be proven,
		// and node B rightly denies.
		maxStale = max(maxStale, 2*time.Second)
	}
	sa, sb := c.Pair(t)
	a := NodeClient(t, sa, "node-a")
	b := NodeClient(t, sb, "node-b", agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: maxStale}))
	ctx := context.Background()
	var lat, stale []time.Duration
	for i := range c.NotifyRounds {
		session := fmt.Sprintf("s-%d", i)
		// Before the suspension the request is allowed, once node B's view
		// is fresh: on a loaded machine (CI under -race) a poll can come
		// late, and B rightly denies until it has confirmed its view.
		d, err := b.Check(ctx, Work(session))
		for deadline := time.Now().Add(10 * time.Second); errors.Is(err, agenttrust.ErrStoreUnavailable) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			d, err = b.Check(ctx, Work(session))
		}
		if err != nil || !d.Allowed() {
			t.Fatalf("before suspend: %v %v", d.Effect, err)
		}
		stale = append(stale, d.Staleness)
		if err := a.Suspend(ctx, session, "test"); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		for {
			d, err := b.Check(ctx, Work(session))
			if !d.Allowed() {
				if err != nil && !errors.Is(err, agenttrust.ErrSuspended) && !errors.Is(err, agenttrust.ErrStoreUnavailable) {
					t.Fatalf("denied for the wrong reason: %v", err)
				}
				break
			}
			if since := time.Since(done); since > maxStale {
				t.Fatalf("suspension %d not honoured on node B within MaxStaleness (%v after Suspend returned)", i, since)
			}
			time.Sleep(100 * time.Microsecond)
		}
		lat = append(lat, time.Since(done))
	}
	t.Logf("notify mode, Suspend on A -> Deny on B: %s", Percentiles(lat))
	t.Logf("notify mode, view age carried by decisions: %s", Percentiles(stale))
	if c.NotifyP99 > 0 && !c.Race {
		if p99 := lat[len(lat)*99/100]; p99 >= c.NotifyP99 {
			t.Fatalf("p99 %v, want under %v", p99, c.NotifyP99)
		}
	}
}

// Checks during each fault (the database refusing connections,
// connections dropped mid-query, queries slower than the timeout) give 0
// Allow, each within the timeout plus a margin, and after recovery every
// decision is in the audit trail exactly once.
func nodesFaults(t *testing.T, c NodesConfig) {
	const timeout = 200 * time.Millisecond
	st, direct, proxy := c.Faulty(t, timeout)
	cl := NodeClient(t, st, "faulty", agenttrust.WithAudit(agenttrust.AuditConfig{StuckAfter: time.Hour}))
	ctx := context.Background()

	faults := []struct {
		name  string
		apply func()
	}{
		{"server refuses connections", proxy.Cut},
		{"connection dropped mid-query", func() {
			proxy.Stall()                                                  // queries in flight hang...
			go func() { time.Sleep(50 * time.Millisecond); proxy.Cut() }() // ...then their connections drop
		}},
		{"query slower than the timeout", func() { proxy.Delay(3 * timeout) }},
	}
	var want []agenttrust.DecisionID
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			f.apply()
			var allowed atomic.Int64
			var mu sync.Mutex
			var slowest time.Duration
			var wg sync.WaitGroup
			const workers, each = 50, 20
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						start := time.Now()
						d, err := cl.Check(ctx, Work(fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(f.name, " ", "-"), w, i)))
						took := time.Since(start)
						if d.Allowed() {
							allowed.Add(1)
						} else if !errors.Is(err, agenttrust.ErrStoreUnavailable) {
							t.Errorf("denied with %v, want ErrStoreUnavailable", err)
						}
						mu.Lock()
						want = append(want, d.ID)
						slowest = max(slowest, took)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			proxy.Restore()
			if n := allowed.Load(); n != 0 {
				t.Fatalf("%d of %d checks allowed during the fault", n, workers*each)
			}
			if !c.Race && slowest > timeout+c.Margin+100*time.Millisecond {
				t.Errorf("slowest denial took %v, want within the %v timeout plus a margin", slowest, timeout)
			}
			t.Logf("%s: %d checks, 0 allowed, slowest denial %v", f.name, workers*each, slowest)
		})
	}
	// Service resumes by itself and the spooled audit reaches the store.
	// The bound is generous: a loaded machine reconnects slowly, and what
	// is tested is that service resumes without help.
	deadline := time.Now().Add(30 * time.Second)
	for d, err := cl.Check(ctx, Work("after")); !d.Allowed(); d, err = cl.Check(ctx, Work("after")) {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 30s after the faults: the last check denied (%s): %v", d.Reason, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cl.SyncAudit(sctx); err != nil {
		t.Fatal(err)
	}
	recs, err := direct.QueryAudit(ctx, store.AuditQuery{Chain: "faulty"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.VerifyChain(recs); err != nil {
		t.Fatal(err)
	}
	seen := map[agenttrust.DecisionID]int{}
	for _, r := range recs {
		seen[r.ID]++
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Fatalf("decision %s audited %d times, want exactly once", id, seen[id])
		}
	}
	t.Logf("%d decisions during faults, each audited exactly once; chain of %d records verifies", len(want), len(recs))
}
