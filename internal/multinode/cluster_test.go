package multinode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
)

const (
	pgEnv     = "AGENTTRUST_TEST_POSTGRES"
	mysqlEnv  = "AGENTTRUST_TEST_MYSQL"
	trialsEnv = "AGENTTRUST_MULTINODE_TRIALS"
	tenant    = "acme"
	nNodes    = 3
)

// Secrets every node shares, as the nodes of one deployment share a
// secrets file.
var (
	masterKey  = agenttrust.SecretKey{ID: "mk1", Secret: bytes.Repeat([]byte("m"), 32)}
	signingKey = agenttrust.SecretKey{ID: "sk1", Secret: bytes.Repeat([]byte("s"), 32)}
	auditKey   = func() agenttrust.AuditKey {
		k, err := agenttrust.NewAuditKey(bytes.Repeat([]byte("a"), 32))
		if err != nil {
			panic(err)
		}
		return k
	}()
)

// clusterPolicy is the tenant's policy: work is allowed, pay needs an
// approver, limited is under a cluster-wide limit of 100 a minute and
// limited-node under the same limit kept by each node.
const clusterPolicy = `
rules:
  - id: work
    effect: allow
    agents: [bot]
    tools: [work, limited, limited-node]
  - id: pay
    effect: needs_approval
    agents: [bot]
    tools: [pay]
    approvers: [carol]
limits:
  - id: shared
    tools: [limited]
    rate: 100/m
    burst: 100
    scope: cluster
  - id: per-node
    tools: [limited-node]
    rate: 100/m
    burst: 100
`

// fixedClock is a clock the test moves by hand, shared by every node, as
// synchronised clocks are.
type fixedClock struct{ ns atomic.Int64 }

func (c *fixedClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fixedClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type node struct {
	name string
	st   store.Store
	srv  *server.Server
	ts   *httptest.Server
}

// cluster is three nodes on one PostgreSQL schema and a client of the
// test that sends each request to the next node in turn, keeping every
// decision the nodes answered.
type cluster struct {
	t     *testing.T
	nodes []*node
	next  atomic.Uint64
	hc    *http.Client
	keys  map[string]string // agent -> API key secret

	mu       sync.Mutex
	answered map[string]string // decision id -> effect
	// operated counts the operator actions performed, by "tool target
	// actor": each must be in a chain, as a record of its own.
	operated map[string]int
}

// operatorAction reports an operator action that succeeded: tool on
// target by actor (the agent named by the caller's key; "" for the
// library, called with no server in between).
func (c *cluster) operatorAction(tool, target, actor string) {
	c.mu.Lock()
	c.operated[tool+" "+target+" "+actor]++
	c.mu.Unlock()
}

type clusterConfig struct {
	clock  interface{ Now() time.Time } // nil: the system clock
	notify time.Duration                // MaxStaleness of notify mode; 0: strict mode
}

// newCluster starts three nodes on fresh shared data of backend b, with
// the keys of an admin (alice), an agent (bot) and an approver (carol),
// and clusterPolicy stored.
func newCluster(t *testing.T, b backend, cfg clusterConfig) *cluster {
	t.Helper()
	open := b.shared(t)

	c := &cluster{t: t, hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		keys: map[string]string{}, answered: map[string]string{}, operated: map[string]int{}}
	t.Cleanup(c.hc.CloseIdleConnections)
	for i := range nNodes {
		n := &node{name: fmt.Sprintf("node-%d", i+1)}
		var err error
		n.st = open(t)
		t.Cleanup(func() { n.st.Close() })
		clientOpts := []agenttrust.Option{
			agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{masterKey}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{signingKey}}),
			agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true}), // as agenttrust serve
		}
		if cfg.notify > 0 {
			clientOpts = append(clientOpts, agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: cfg.notify}))
		}
		opts := []server.Option{
			server.WithNodeName(n.name), server.WithSystemTenant("ops"), server.WithAuditKey(auditKey),
			server.WithClientOptions(clientOpts...),
		}
		if cfg.clock != nil {
			opts = append(opts, server.WithClock(cfg.clock.Now))
		}
		if n.srv, err = server.New(n.st, opts...); err != nil {
			t.Fatal(err)
		}
		n.ts = httptest.NewServer(n.srv)
		t.Cleanup(func() { n.ts.Close(); n.srv.Close() })
		c.nodes = append(c.nodes, n)
	}
	ctx := context.Background()
	first, err := c.nodes[0].srv.Client(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	for agent, role := range map[string]string{"alice": "admin", "bot": "agent", "carol": "approver"} {
		secret, key, err := first.CreateKey(ctx, agenttrust.KeySpec{AgentID: agent, Roles: []string{role}})
		if err != nil {
			t.Fatal(err)
		}
		c.keys[agent] = secret
		c.operatorAction("agenttrust.create_key", key.ID, "")
	}
	if _, err := first.SavePolicy(ctx, []byte(clusterPolicy), "yaml", 0); err != nil {
		t.Fatal(err)
	}
	c.operatorAction("agenttrust.save_policy", "policy", "")
	return c
}

// anyNode is the node index that asks for the next node in turn.
const anyNode = -1

// do sends a request to node i (anyNode: the next in turn) as agent and
// decodes a 2xx answer into out. It returns the status.
func (c *cluster) do(i int, method, path, agent string, body, out any) (int, error) {
	if i == anyNode {
		i = int(c.next.Add(1) % nNodes)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.nodes[i].ts.URL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.keys[agent])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s on %s: %d %s", method, path, c.nodes[i].name, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, nil
}

// check asks node i whether bot may use tool, and keeps the decision.
func (c *cluster) check(i int, tool, resource, session string) (wire.CheckResponse, error) {
	var out wire.CheckResponse
	_, err := c.do(i, http.MethodPost, "/v1/actions/check", "bot", wire.CheckRequest{ToolName: tool, Resource: resource, SessionID: session}, &out)
	if err != nil {
		return out, err
	}
	if out.DecisionID == "" {
		return out, fmt.Errorf("an answer without a decision id: %+v", out)
	}
	c.mu.Lock()
	c.answered[out.DecisionID] = out.Effect
	c.mu.Unlock()
	return out, nil
}

// verifyAudit closes every node, which writes out its audit, and checks
// that each node's chain verifies and that together they hold exactly
// the decisions answered, each with the effect answered, and apart from
// them exactly the operator actions performed, each naming its actor.
func (c *cluster) verifyAudit() {
	t := c.t
	t.Helper()
	for _, n := range c.nodes {
		n.ts.Close()
		if err := n.srv.Close(); err != nil {
			t.Errorf("close %s: %v", n.name, err)
		}
	}
	ctx := context.Background()
	recorded := map[string]string{}
	withdrawn := map[string]bool{}
	operated := map[string]int{}
	total := 0
	for _, n := range c.nodes {
		chain := n.name + "/" + tenant
		var recs []agenttrust.AuditRecord
		for {
			q := store.AuditQuery{Chain: chain, Limit: 5000}
			if len(recs) > 0 {
				q.AfterSeq = recs[len(recs)-1].Seq
			}
			page, err := c.nodes[0].st.QueryAudit(ctx, q)
			if err != nil {
				t.Fatalf("query audit of %s: %v", chain, err)
			}
			if len(page) == 0 {
				break
			}
			recs = append(recs, page...)
		}
		if len(recs) == 0 {
			t.Errorf("chain %s is empty", chain)
			continue
		}
		if err := agenttrust.VerifyChain(recs, auditKey); err != nil {
			t.Errorf("chain %s does not verify: %v", chain, err)
		}
		for _, r := range recs {
			if strings.HasPrefix(r.Tool, "agenttrust.") {
				if r.Effect != agenttrust.Allow {
					t.Errorf("operator action noted as not performed: %s %s: %s", r.Tool, r.Resource, r.Reason)
				}
				operated[r.Tool+" "+r.Resource+" "+r.AgentID]++
				continue
			}
			if r.Rule == "agenttrust.audit_withdrawn" {
				id, _, _ := strings.Cut(strings.TrimPrefix(r.Reason, "decision "), " ")
				withdrawn[id] = true
				continue
			}
			id := r.ID.String()
			if _, dup := recorded[id]; dup {
				t.Errorf("decision %s recorded twice", id)
			}
			recorded[id] = r.Effect.String()
		}
		total += len(recs)
		t.Logf("%s: %d records, chain verifies", chain, len(recs))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, effect := range c.answered {
		got, ok := recorded[id]
		switch {
		case !ok:
			t.Errorf("answered decision %s (%s) is in no chain", id, effect)
		case got != effect && !(withdrawn[id] && effect == "deny"):
			t.Errorf("decision %s answered %s, recorded %s", id, effect, got)
		}
	}
	for id, effect := range recorded {
		if _, ok := c.answered[id]; !ok {
			t.Errorf("recorded decision %s (%s) was never answered", id, effect)
		}
	}
	ops := 0
	for _, n := range operated {
		ops += n
	}
	if !maps.Equal(operated, c.operated) {
		t.Errorf("operator records %v, want the actions performed %v", operated, c.operated)
	}
	t.Logf("audit: %d decisions answered, %d recorded over %d chains (%d records, %d withdrawn); %d operator actions recorded",
		len(c.answered), len(recorded), nNodes, total, len(withdrawn), ops)
}

// trials is how many strict-mode revocations to try.
func trials(t *testing.T) int {
	t.Helper()
	s := os.Getenv(trialsEnv)
	if s == "" {
		return 1000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", trialsEnv, s)
	}
	return n
}

// parallel runs fn(i) for i in [0, n) on workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(ds), at(0.50), at(0.99), ds[len(ds)-1])
}

// TestClusterStrictRevocation: a session revoked on one node is denied by
// the very next check on every node, in every trial; then every chain
// verifies and holds exactly the decisions answered.
func TestClusterStrictRevocation(t *testing.T) { eachBackend(t, testStrictRevocation) }

func testStrictRevocation(t *testing.T, b backend) {
	c := newCluster(t, b, clusterConfig{clock: &fixedClock{}})
	n := trials(t)
	var allowedAfter, allowedBefore, checks atomic.Int64
	start := time.Now()
	parallel(n, 8, func(i int) {
		if t.Failed() {
			return
		}
		session := fmt.Sprintf("s-%d", i)
		revoker := i % nNodes
		if i%20 == 0 { // now and then, show the session was allowed before
			d, err := c.check((revoker+1)%nNodes, "work", "", session)
			if err != nil || !d.Allowed {
				t.Errorf("trial %d before the revocation: %+v %v", i, d, err)
				return
			}
			allowedBefore.Add(1)
		}
		if _, err := c.do(revoker, http.MethodPost, "/v1/revocations", "alice", wire.RevokeRequest{ID: session}, nil); err != nil {
			t.Errorf("trial %d: revoke: %v", i, err)
			return
		}
		c.operatorAction("agenttrust.revoke", session, "alice")
		for k := 1; k <= nNodes; k++ {
			on := (revoker + k) % nNodes
			d, err := c.check(on, "work", "", session)
			checks.Add(1)
			switch {
			case err != nil:
				t.Errorf("trial %d on %s: %v", i, c.nodes[on].name, err)
			case d.Allowed:
				allowedAfter.Add(1)
				t.Errorf("trial %d: %s allowed session %s after %s's revocation returned", i, c.nodes[on].name, session, c.nodes[revoker].name)
			case d.Reason != "session revoked":
				t.Errorf("trial %d on %s: denied for %q, want session revoked", i, c.nodes[on].name, d.Reason)
			}
		}
	})
	elapsed := time.Since(start)
	t.Logf("strict mode: %d trials, %d checks after a revocation returned, %d allowed (%d allowed beforehand), in %v (%.0f trials/s)",
		n, checks.Load(), allowedAfter.Load(), allowedBefore.Load(), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	c.verifyAudit()
}

// TestClusterNotifyRevocation: nodes keep revocations in memory, fed by
// LISTEN/NOTIFY. A revocation on one node is honoured by the other two
// within MaxStaleness: no allow once MaxStaleness has passed since it
// returned.
func TestClusterNotifyRevocation(t *testing.T) { eachBackend(t, testNotifyRevocation) }

func testNotifyRevocation(t *testing.T, b backend) {
	const maxStaleness = 250 * time.Millisecond
	c := newCluster(t, b, clusterConfig{notify: maxStaleness})
	const n = 300
	var mu sync.Mutex
	var lat []time.Duration
	unavailable := 0
	parallel(n, 4, func(i int) {
		if t.Failed() {
			return
		}
		session := fmt.Sprintf("s-%d", i)
		revoker := i % nNodes
		if _, err := c.do(revoker, http.MethodPost, "/v1/revocations", "alice", wire.RevokeRequest{ID: session}, nil); err != nil {
			t.Errorf("trial %d: revoke: %v", i, err)
			return
		}
		c.operatorAction("agenttrust.revoke", session, "alice")
		returned := time.Now()
		for k := 1; k < nNodes; k++ {
			on := (revoker + k) % nNodes
			for {
				before := time.Now()
				d, err := c.check(on, "work", "", session)
				if err != nil && strings.Contains(err.Error(), ": 503 ") && before.Sub(returned) < 10*time.Second {
					// A view older than MaxStaleness answers 503: the
					// node fails closed, as it must on a loaded machine.
					// Not an allow; ask again until the deny.
					mu.Lock()
					unavailable++
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("trial %d on %s: %v", i, c.nodes[on].name, err)
					return
				}
				if !d.Allowed {
					mu.Lock()
					lat = append(lat, time.Since(returned))
					mu.Unlock()
					break
				}
				// An allow is fine only from a check that began within
				// MaxStaleness of the revocation returning.
				if before.Sub(returned) > maxStaleness {
					t.Errorf("trial %d: %s allowed session %s %v after %s's revocation returned (MaxStaleness %v)",
						i, c.nodes[on].name, session, before.Sub(returned), c.nodes[revoker].name, maxStaleness)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	})
	t.Logf("notify mode, revocation returned on one node -> deny on another: %s (MaxStaleness %v); %d checks failed closed on a stale view",
		percentiles(lat), maxStaleness, unavailable)
	c.verifyAudit()
}

// TestClusterLimit: 3 x 200 concurrent calls, 200 to each node, under a
// cluster-wide limit of 100 a minute (burst 100) allow 100: not 100 per
// node, as a node-local limit does. Half a minute later, 50 more.
func TestClusterLimit(t *testing.T) { eachBackend(t, testLimit) }

func testLimit(t *testing.T, b backend) {
	clock := &fixedClock{}
	clock.ns.Store(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC).UnixNano())
	c := newCluster(t, b, clusterConfig{clock: clock})
	burst := func(tool string) (allowed int64) {
		var n atomic.Int64
		var wg sync.WaitGroup
		startGate := make(chan struct{})
		for i := range nNodes * 200 {
			wg.Go(func() {
				<-startGate
				d, err := c.check(i%nNodes, tool, "", "")
				switch {
				case err != nil:
					t.Errorf("%s call %d: %v", tool, i, err)
				case d.Allowed:
					n.Add(1)
				case d.RuleID != "shared" && d.RuleID != "per-node":
					t.Errorf("%s call %d denied by %q (%s %s), want a limit", tool, i, d.RuleID, d.Reason, d.Error)
				}
			})
		}
		start := time.Now()
		close(startGate)
		wg.Wait()
		t.Logf("%s: %d of %d concurrent calls over %d nodes allowed, in %v", tool, n.Load(), nNodes*200, nNodes, time.Since(start).Round(time.Millisecond))
		return n.Load()
	}
	if got := burst("limited"); got != 100 {
		t.Errorf("cluster limit 100/m: %d allowed of 3 x 200, want 100", got)
	}
	if got := burst("limited-node"); got != 300 {
		t.Errorf("node limit 100/m: %d allowed of 3 x 200, want 300 (100 per node)", got)
	}
	clock.Advance(30 * time.Second)
	if got := burst("limited"); got != 50 {
		t.Errorf("cluster limit 100/m half a minute later: %d allowed, want 50", got)
	}
	c.verifyAudit()
}

// TestClusterApprovals: an approval asked for on one node and granted on
// another is consumed once, by one of 15 concurrent checks spread over
// every node.
func TestClusterApprovals(t *testing.T) { eachBackend(t, testApprovals) }

func testApprovals(t *testing.T, b backend) {
	c := newCluster(t, b, clusterConfig{clock: &fixedClock{}})
	for k := range 20 {
		resource := fmt.Sprintf("invoice-%d", k)
		d, err := c.check(k%nNodes, "pay", resource, "")
		if err != nil || d.Effect != "needs_approval" || d.ApprovalID == "" {
			t.Fatalf("request %d: %+v %v; want needs_approval with an approval", k, d, err)
		}
		var view wire.ApprovalView
		if _, err := c.do((k+1)%nNodes, http.MethodPost, "/v1/approvals/"+d.ApprovalID+"/approve", "carol", wire.DecideRequest{Note: "ok"}, &view); err != nil {
			t.Fatalf("approve %d on %s: %v", k, c.nodes[(k+1)%nNodes].name, err)
		}
		c.operatorAction("agenttrust.approve", d.ApprovalID, "carol")
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for i := range 15 {
			wg.Go(func() {
				r, err := c.check(i%nNodes, "pay", resource, "")
				switch {
				case err != nil:
					t.Errorf("request %d, check %d: %v", k, i, err)
				case r.Allowed:
					allowed.Add(1)
					if r.ApprovalID != d.ApprovalID {
						t.Errorf("request %d allowed by approval %q, want %q", k, r.ApprovalID, d.ApprovalID)
					}
				case r.Effect != "needs_approval":
					t.Errorf("request %d, check %d: %+v, want needs_approval once the grant is used", k, i, r)
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 1 {
			t.Fatalf("request %d: approval granted on %s allowed %d of 15 concurrent checks over %d nodes, want 1", k, c.nodes[(k+1)%nNodes].name, got, nNodes)
		}
	}
	t.Logf("20 approvals, each asked on one node and granted on the next: each allowed exactly one of 15 concurrent checks over %d nodes", nNodes)
	c.verifyAudit()
}
