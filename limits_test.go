package agenttrust_test

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
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

const clusterPolicy = `
rules:
  - id: work
    effect: allow
    tools: [work, other]
limits:
  - id: shared
    tools: [work]
    rate: 6/m
    burst: 3
    scope: cluster
`

// nodes returns n clients over one store st, as n processes sharing a
// database are, each with its own clock reading now.
func nodes(t *testing.T, st store.Store, n int, policyYAML string, now func() time.Time) []*agenttrust.Client {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(policyYAML), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*agenttrust.Client, n)
	for i := range out {
		c, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithClock(now),
			agenttrust.WithAudit(agenttrust.AuditConfig{Chain: fmt.Sprintf("node-%d", i)}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		out[i] = c
	}
	return out
}

// TestClusterLimitAcrossNodes: a cluster limit holds for every client of
// a store together, where a node limit allows its rate on each.
func TestClusterLimitAcrossNodes(t *testing.T) {
	clock := newTestClock()
	for _, tc := range []struct {
		name, scope string
		want        int // allowed of 30 calls over three nodes at one instant
	}{
		{"cluster", "cluster", 3},
		{"node", "node", 9},
		{"default", "", 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := strings.Replace(clusterPolicy, "scope: cluster", "scope: "+tc.scope, 1)
			if tc.scope == "" {
				pol = strings.Replace(clusterPolicy, "    scope: cluster\n", "", 1)
			}
			cs := nodes(t, memory.New(), 3, pol, clock.Now)
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for i := range 30 {
				wg.Go(func() {
					d, err := cs[i%3].Check(context.Background(), agenttrust.Request{AgentID: "a1", Tool: "work"})
					if err != nil {
						t.Errorf("check: %v", err)
					}
					switch {
					case d.Allowed():
						allowed.Add(1)
					case d.Rule != "shared":
						t.Errorf("denied by %q (%s), want the limit", d.Rule, d.Reason)
					}
				})
			}
			wg.Wait()
			if got := allowed.Load(); got != int64(tc.want) {
				t.Fatalf("%d of 30 allowed across 3 nodes, want %d", got, tc.want)
			}
		})
	}
}

// TestClusterLimitRefills: the shared bucket refills at the rate, on
// every node, and keys (agent, tool) apart; other tools are not limited.
func TestClusterLimitRefills(t *testing.T) {
	clock := newTestClock()
	cs := nodes(t, memory.New(), 2, clusterPolicy, clock.Now)
	ctx := context.Background()
	check := func(node int, agent, tool string) bool {
		t.Helper()
		d, err := cs[node].Check(ctx, agenttrust.Request{AgentID: agent, Tool: tool})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed()
	}
	for i, want := range []bool{true, true, true, false} {
		if got := check(i%2, "a1", "work"); got != want {
			t.Fatalf("call %d: allowed %v, want %v", i, got, want)
		}
	}
	if !check(1, "a2", "work") {
		t.Fatal("another agent shares a1's bucket")
	}
	if !check(0, "a1", "other") {
		t.Fatal("a tool the limit does not name was limited")
	}
	clock.Advance(10 * time.Second) // 6/m: one more
	if !check(1, "a1", "work") || check(0, "a1", "work") {
		t.Fatal("after one interval, want exactly one more call allowed")
	}
}

// plainStore hides every method of the memory store but store.Store's.
type plainStore struct{ store.Store }

// TestClusterLimitNeedsStore: over a store that holds no cluster limits,
// a policy with one is refused wherever it would go live, and what was
// live stays.
func TestClusterLimitNeedsStore(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(clusterPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantRefusal := func(t *testing.T, err error) {
		t.Helper()
		var pe *agenttrust.PolicyError
		if !errors.As(err, &pe) || !errors.Is(err, agenttrust.ErrInvalidPolicy) || pe.Rule != "shared" || pe.Index != 1 || !strings.Contains(pe.Msg, "store.ClusterLimiter") {
			t.Fatalf("error %v (%#v), want a *PolicyError naming limit shared and store.ClusterLimiter", err, pe)
		}
	}
	t.Run("New", func(t *testing.T) {
		_, err := agenttrust.New(plainStore{memory.New()}, agenttrust.WithPolicy(p))
		wantRefusal(t, err)
	})
	t.Run("SetPolicy", func(t *testing.T) {
		c, err := agenttrust.New(plainStore{memory.New()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wantRefusal(t, c.SetPolicy(p))
	})
	t.Run("SavePolicy", func(t *testing.T) {
		st := plainStore{memory.New()}
		c, err := agenttrust.New(st)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.SavePolicy(context.Background(), []byte(clusterPolicy), "yaml", 0)
		wantRefusal(t, err)
		if _, err := st.Policy(context.Background(), agenttrust.DefaultTenant); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused policy was stored: %v", err)
		}
	})
	t.Run("StoredPolicy", func(t *testing.T) {
		st := plainStore{memory.New()}
		if _, err := st.PutPolicy(context.Background(), store.PolicyDoc{Tenant: agenttrust.DefaultTenant, Format: "yaml", Body: []byte(clusterPolicy)}, 0); err != nil {
			t.Fatal(err)
		}
		_, err := agenttrust.New(st)
		wantRefusal(t, err)
	})
	t.Run("NodeScopeIsFine", func(t *testing.T) {
		c, err := agenttrust.New(plainStore{memory.New()}, agenttrust.WithPolicy(&agenttrust.Policy{Limits: []agenttrust.Limit{{ID: "l", Rate: "1/s", Scope: "node"}}}))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
}

// failingLimiter is a memory store whose cluster limits fail on demand.
type failingLimiter struct {
	*memory.Store
	down atomic.Bool
}

func (f *failingLimiter) TakeRate(ctx context.Context, r store.RateTake) (bool, error) {
	if f.down.Load() {
		return false, fmt.Errorf("rates gone: %w", store.ErrUnavailable)
	}
	return f.Store.TakeRate(ctx, r)
}

// TestClusterLimitFailsClosed: when the store cannot take, the check
// denies with ErrStoreUnavailable, naming the limit, and is recorded;
// it allows again once the store is back.
func TestClusterLimitFailsClosed(t *testing.T) {
	st := &failingLimiter{Store: memory.New()}
	p, err := agenttrust.ParsePolicy([]byte(clusterPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	sink := agenttrust.NewMemorySink(100)
	c, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	st.down.Store(true)
	d, err := c.Check(ctx, agenttrust.Request{AgentID: "a1", Tool: "work"})
	if d.Allowed() || !errors.Is(err, agenttrust.ErrStoreUnavailable) || d.Rule != "shared" {
		t.Fatalf("with the limiter down: %v %q %v; want a deny naming the limit with ErrStoreUnavailable", d.Effect, d.Rule, err)
	}
	if d, err := c.Check(ctx, agenttrust.Request{AgentID: "a1", Tool: "other"}); !d.Allowed() {
		t.Fatalf("a tool without a cluster limit: %v %v", d.Effect, err)
	}
	st.down.Store(false)
	if d, err = c.Check(ctx, agenttrust.Request{AgentID: "a1", Tool: "work"}); !d.Allowed() {
		t.Fatalf("with the limiter back: %v %v", d.Effect, err)
	}
	if err := c.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	recs := sink.Records()
	if len(recs) != 3 || recs[0].Effect != agenttrust.Deny || recs[0].Rule != "shared" || recs[0].Reason != "store unavailable" {
		t.Fatalf("audit: %d records, first %+v; want 3, the first the deny naming the limit", len(recs), recs)
	}
}

// TestClusterLimitREADME: the README's cluster limit loads, and holds over
// two clients of one store.
func TestClusterLimitREADME(t *testing.T) {
	p, err := agenttrust.LoadPolicyFile("testdata/cluster-limit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Limits) != 1 || p.Limits[0].Scope != "cluster" {
		t.Fatalf("limits %+v, want one of scope cluster", p.Limits)
	}
	clock := newTestClock()
	st := memory.New()
	var cs [2]*agenttrust.Client
	for i := range cs {
		if cs[i], err = agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithClock(clock.Now)); err != nil {
			t.Fatal(err)
		}
		defer cs[i].Close()
	}
	allowed := 0
	for i := range 300 {
		if d, _ := cs[i%2].Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "payments.charge"}); d.Allowed() {
			allowed++
		}
	}
	if allowed != 100 {
		t.Fatalf("%d of 300 allowed over two clients, want 100", allowed)
	}
}

func TestClusterLimitPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits string
		want   string
	}{
		{"unknown scope", "  - {id: l, rate: 1/s, scope: global}\n", `scope "global"`},
		{"window too long", "  - {id: l, rate: 1/h, burst: 100000, scope: cluster}\n", "window longer"},
		{"too many", strings.Repeat("  - {id: lX, rate: 1/s, scope: cluster}\n", 9), "more than 8 limits of scope cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := "rules: []\nlimits:\n" + tc.limits
			for i := range 9 {
				body = strings.Replace(body, "lX", fmt.Sprintf("l%d", i), 1)
			}
			_, err := agenttrust.ParsePolicy([]byte(body), "yaml")
			if !errors.Is(err, agenttrust.ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	// JSON names the field the same way.
	if _, err := agenttrust.ParsePolicy([]byte(`{"rules":[],"limits":[{"id":"l","rate":"1/s","scope":"cluster"}]}`), "json"); err != nil {
		t.Fatal(err)
	}
}

// pruneRecorder is a memory store that records its PruneRates calls.
type pruneRecorder struct {
	*memory.Store
	mu     sync.Mutex
	prunes []string
}

func (p *pruneRecorder) PruneRates(ctx context.Context, tenant string, now time.Time) (int, error) {
	p.mu.Lock()
	p.prunes = append(p.prunes, tenant+" "+now.Format("01-02 15:04:05"))
	p.mu.Unlock()
	return p.Store.PruneRates(ctx, tenant, now)
}

// TestClusterLimitPrunes: a client asks its store to prune its tenant's
// rate state at most once a minute, keeping 48 hours of past state.
func TestClusterLimitPrunes(t *testing.T) {
	st := &pruneRecorder{Store: memory.New()}
	clock := newTestClock() // 05:00:00
	p, err := agenttrust.ParsePolicy([]byte(clusterPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithClock(clock.Now), agenttrust.WithTenant("acme"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if _, err := c.Check(context.Background(), agenttrust.Request{AgentID: "a1", Tool: "work"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(25 * time.Second)
	}
	// 05:00:00 prunes; 05:00:25 and 05:00:50 do not; 05:01:15 does.
	if _, err := c.Check(context.Background(), agenttrust.Request{AgentID: "a1", Tool: "work"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"acme 11-20 05:00:00", "acme 11-20 05:01:15"}
	if !slices.Equal(st.prunes, want) {
		t.Fatalf("prunes %q, want %q", st.prunes, want)
	}
}
