package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

const budgetPolicy = `
rules:
  - id: everything
    effect: allow
    agents: ["*"]
    tools: ["*"]
  - id: wire-needs-a-human
    effect: needs_approval
    agents: ["*"]
    tools: [payments.wire]
  - id: no-deletes
    effect: deny
    agents: ["*"]
    tools: [files.delete]
`

// budgetKey makes a key of agent billing-bot with caveats and returns
// its secret and id.
func budgetKey(t *testing.T, f *fixture, caveats ...string) (string, string) {
	t.Helper()
	secret, k, err := f.c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "billing-bot", Caveats: caveats})
	must.NoError(t, err)
	return secret, k.ID
}

func check(t *testing.T, f *fixture, cred, tool string, attrs map[string]any) (agenttrust.Decision, error) {
	t.Helper()
	return f.c.Check(t.Context(), agenttrust.Request{Tool: tool, Credential: cred, Attributes: attrs})
}

func mustAllow(t *testing.T, f *fixture, cred, tool string, attrs map[string]any) {
	t.Helper()
	d, err := check(t, f, cred, tool, attrs)
	must.NoError(t, err)
	must.Equal(t, agenttrust.Allow, d.Effect, "decision %+v", d)
}

func mustBudgetDeny(t *testing.T, f *fixture, cred, tool string, attrs map[string]any, rule string) agenttrust.Decision {
	t.Helper()
	d, _ := check(t, f, cred, tool, attrs)
	must.Equal(t, agenttrust.Deny, d.Effect, "decision %+v", d)
	must.Equal(t, rule, d.Rule, "decision %+v", d)
	return d
}

func remaining(t *testing.T, f *fixture, node, name string) int64 {
	t.Helper()
	rows, err := f.st.(store.Budgeter).Budgets(t.Context(), "default", node)
	must.NoError(t, err)
	for _, r := range rows {
		if r.Name == name {
			return r.Remaining()
		}
	}
	t.Fatalf("node %s has no budget %q", node, name)
	return 0
}

func lastHop(t *testing.T, tok string) string {
	t.Helper()
	info, err := agenttrust.InspectTokenUnverified(tok)
	must.NoError(t, err)
	must.NotEmpty(t, info.HopIDs)
	return info.HopIDs[len(info.HopIDs)-1]
}

func TestBudgetCallsOnKeyAndItsTokens(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 3")
	tok1, err := f.c.Exchange(t.Context(), secret)
	must.NoError(t, err)
	tok2, err := f.c.Exchange(t.Context(), secret)
	must.NoError(t, err)
	mustAllow(t, f, secret, "mail.read", nil)
	mustAllow(t, f, tok1, "mail.read", nil)
	mustAllow(t, f, tok2, "mail.read", nil)
	// Every token of the key spends the key's one budget.
	for _, cred := range []string{secret, tok1, tok2} {
		d := mustBudgetDeny(t, f, cred, "mail.read", nil, "budget:"+keyID+"/calls")
		expect.Contains(t, d.Reason, "budget exhausted")
	}
	// A budget is no reason to refuse a token that adds none: but a
	// budget on Exchange is refused, it belongs to the key.
	_, err = f.c.Exchange(t.Context(), secret, "budget calls <= 1")
	must.ErrorIs(t, err, agenttrust.ErrCaveat)
}

func TestBudgetDenyAndApprovalSpendNothing(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 2")
	d, err := check(t, f, secret, "files.delete", nil)
	must.NoError(t, err)
	must.Equal(t, agenttrust.Deny, d.Effect)
	must.Equal(t, "no-deletes", d.Rule)
	d, err = check(t, f, secret, "payments.wire", nil)
	must.NoError(t, err)
	must.Equal(t, agenttrust.NeedsApproval, d.Effect)
	must.EqualValues(t, 2, remaining(t, f, keyID, "calls"), "a deny or a pending approval spent")
	must.NoError(t, f.c.Approve(t.Context(), d.ApprovalID, "alice", "ok"))
	mustAllow(t, f, secret, "payments.wire", nil) // the approved request spends once allowed
	must.EqualValues(t, 1, remaining(t, f, keyID, "calls"))
}

func TestBudgetToolScope(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 1 tools payments.*")
	mustAllow(t, f, secret, "payments.charge", nil)
	mustBudgetDeny(t, f, secret, "payments.refund", nil, "budget:"+keyID+"/calls tools payments.*")
	mustAllow(t, f, secret, "mail.read", nil) // outside the scope: neither spent nor refused
}

// An offline attenuation is materialised at its first use, keyed by its
// hop id, carving as Delegate would.
func TestBudgetAttenuateMaterialisesLazily(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 5")
	tok, err := f.c.Exchange(t.Context(), secret)
	must.NoError(t, err)
	small, err := agenttrust.Attenuate(tok, "budget calls <= 2")
	must.NoError(t, err)
	must.EqualValues(t, 5, remaining(t, f, keyID, "calls"))
	mustAllow(t, f, small, "mail.read", nil)
	must.EqualValues(t, 3, remaining(t, f, keyID, "calls"))
	mustAllow(t, f, small, "mail.read", nil)
	mustBudgetDeny(t, f, small, "mail.read", nil, "budget:"+lastHop(t, small)+"/calls")
	// More than the key has left: refused at first use, naming the parent.
	big, err := agenttrust.Attenuate(tok, "budget calls <= 4")
	must.NoError(t, err)
	d := mustBudgetDeny(t, f, big, "mail.read", nil, "budget:"+keyID+"/calls")
	expect.Contains(t, d.Reason, "carve")
}

func lastTokenID(t *testing.T, tok string) string {
	info, err := agenttrust.InspectTokenUnverified(tok)
	must.NoError(t, err)
	return info.ID
}

// An expired child's unspent carve-out goes back to its parent when a
// sibling needs it.
func TestBudgetExpiredChildReclaimed(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 10")
	tok, err := f.c.Exchange(t.Context(), secret)
	must.NoError(t, err)
	_, _, err = f.c.Delegate(t.Context(), tok, time.Minute, "budget calls <= 8")
	must.NoError(t, err)
	_, _, err = f.c.Delegate(t.Context(), tok, time.Minute, "budget calls <= 3")
	must.Error(t, err)
	f.clock.Advance(time.Minute)
	_, _, err = f.c.Delegate(t.Context(), tok, 0, "budget calls <= 9")
	must.NoError(t, err)
	must.EqualValues(t, 1, remaining(t, f, keyID, "calls"))
}

// The bar, through Check: 1,000 parallel checks made with the tokens of
// a delegation tree of depth 4 (a key; two hops under its token, two
// under each, two under each of those) never overspend any node, and
// exactly min(attempts, own room) pass at each.
func TestBudgetConcurrentTree(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 500")
	tok, err := f.c.Exchange(t.Context(), secret)
	must.NoError(t, err)
	type node struct {
		id, tok string
		own     int64
	}
	nodes := []node{{id: keyID, tok: tok, own: 500 - 2*200}}
	limits := []int64{200, 90, 40}
	var grow func(parent string, depth int)
	grow = func(parent string, depth int) {
		for range 2 {
			var child string
			var err error
			if depth%2 == 0 { // alternate server-side and offline hops
				child, _, err = f.c.Delegate(t.Context(), parent, 0, fmt.Sprint("budget calls <= ", limits[depth]))
			} else {
				child, err = agenttrust.Attenuate(parent, fmt.Sprint("budget calls <= ", limits[depth]))
			}
			must.NoError(t, err)
			own := limits[depth]
			if depth+1 < len(limits) {
				own -= 2 * limits[depth+1]
			}
			nodes = append(nodes, node{id: lastHop(t, child), tok: child, own: own})
			if depth+1 < len(limits) {
				grow(child, depth+1)
			}
		}
	}
	grow(tok, 0)
	must.Len(t, nodes, 15)
	const checks = 1000
	rng := rand.New(rand.NewPCG(3, 4))
	pick := make([]int, checks)
	attempts := make([]int64, len(nodes))
	for i := range pick {
		pick[i] = rng.IntN(len(nodes))
		attempts[pick[i]]++
	}
	passed := make([]atomic.Int64, len(nodes))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range checks {
		wg.Go(func() {
			<-start
			d, err := f.c.Check(context.Background(), agenttrust.Request{Tool: "mail.read", Credential: nodes[pick[i]].tok})
			if err != nil {
				t.Errorf("check: %v", err)
			}
			if d.Allowed() {
				passed[pick[i]].Add(1)
			} else if want := "budget:" + nodes[pick[i]].id + "/calls"; d.Rule != want {
				t.Errorf("denied by %q, want %q", d.Rule, want)
			}
		})
	}
	close(start)
	wg.Wait()
	var total int64
	for i, n := range nodes {
		total += passed[i].Load()
		expect.Equal(t, min(attempts[i], n.own), passed[i].Load(), "node %d (%s)", i, n.id)
		rows, err := f.st.(store.Budgeter).Budgets(t.Context(), "default", n.id)
		must.NoError(t, err)
		must.Len(t, rows, 1)
		r := rows[0]
		expect.True(t, r.Spent <= r.Limit && r.Remaining() >= 0, "node %s overspent: %+v", n.id, r)
	}
	rows, err := f.st.(store.Budgeter).Budgets(t.Context(), "default", keyID)
	must.NoError(t, err)
	expect.Equal(t, total, rows[0].Spent)
}

func TestBudgetErrorsAreTyped(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, _ := budgetKey(t, f, "budget attr.amount <= 1")
	_, err := check(t, f, secret, "payments.charge", nil)
	must.True(t, errors.Is(err, agenttrust.ErrUnevaluable), "%v", err)
}

// budgetBenchClient returns a client over a fresh memory store and a
// check request made with a token through two hops: a server-side one
// with hopCav and an offline one. keyCav are the key's caveats.
func budgetBenchClient(b *testing.B, keyCav, hopCav []string) (*agenttrust.Client, agenttrust.Request) {
	ctx := context.Background()
	p, err := agenttrust.ParsePolicy([]byte(budgetPolicy), "yaml")
	if err != nil {
		b.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Caveats: keyCav})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.Exchange(ctx, secret)
	if err != nil {
		b.Fatal(err)
	}
	if tok, _, err = c.Delegate(ctx, tok, 0, hopCav...); err != nil {
		b.Fatal(err)
	}
	if tok, err = agenttrust.Attenuate(tok, "resource in acct-*"); err != nil {
		b.Fatal(err)
	}
	req := agenttrust.Request{Tool: "payments.charge", Resource: "acct-1", Credential: tok,
		Attributes: map[string]any{"amount": 12.5, "currency": "USD"}}
	if d, err := c.Check(ctx, req); err != nil || !d.Allowed() {
		b.Fatalf("Check = %+v, %v", d, err)
	}
	return c, req
}

// BenchmarkCheckBudget compares, in one run, a check made with a token
// through two hops on the memory store without a budget and with two (a
// calls budget on the key, an amount budget in USD on a hop): the budget
// phase builds the chain, plans the spend and writes it. The "ratio"
// case alternates blocks of the two checks in one loop, so that the load
// of a shared machine weighs on both alike, and reports the ratio of
// their median block times, budgeted/unbudgeted.
// Bar: ratio at most 3.
//
//	go test -run '^$' -bench BenchmarkCheckBudget -count 5 .
func BenchmarkCheckBudget(b *testing.B) {
	ctx := context.Background()
	plainKey, plainHop := []string(nil), []string{"tool in payments.*"}
	budgetKey, budgetHop := []string{"budget calls <= 9007199254740992"}, []string{"tool in payments.*", "budget attr.amount <= 9007199254 USD"}
	loop := func(b *testing.B, c *agenttrust.Client, req agenttrust.Request) {
		b.ReportAllocs()
		for b.Loop() {
			if d, _ := c.Check(ctx, req); !d.Allowed() {
				b.Fatal(d.Reason)
			}
		}
	}
	b.Run("unbudgeted", func(b *testing.B) {
		c, req := budgetBenchClient(b, plainKey, plainHop)
		loop(b, c, req)
	})
	b.Run("budgeted", func(b *testing.B) {
		c, req := budgetBenchClient(b, budgetKey, budgetHop)
		loop(b, c, req)
	})
	b.Run("ratio", func(b *testing.B) {
		plain, plainReq := budgetBenchClient(b, plainKey, plainHop)
		budgeted, budgetReq := budgetBenchClient(b, budgetKey, budgetHop)
		// Blocks of checks of each kind, alternating; the ratio is of the
		// median block times, which a preempted block does not move.
		const block = 64
		var tPlain, tBudget []float64
		run := func(c *agenttrust.Client, req agenttrust.Request) float64 {
			t0 := time.Now()
			for range block {
				if d, _ := c.Check(ctx, req); !d.Allowed() {
					b.Fatal(d.Reason)
				}
			}
			return float64(time.Since(t0).Nanoseconds()) / block
		}
		for b.Loop() {
			tPlain = append(tPlain, run(plain, plainReq))
			tBudget = append(tBudget, run(budgeted, budgetReq))
		}
		median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
		mp, mb := median(tPlain), median(tBudget)
		b.ReportMetric(mp, "unbudgeted-ns/check")
		b.ReportMetric(mb, "budgeted-ns/check")
		b.ReportMetric(mb/mp, "ratio")
	})
}

// A key with ten calls; a delegation carves four of them for a helper
// agent's token, which can then make four calls and no more.
func ExampleClient_Delegate_budget() {
	ctx := context.Background()
	p, _ := agenttrust.ParsePolicy([]byte(`rules: [{id: all, effect: allow, tools: ["*"]}]`), "yaml")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	defer c.Close()
	secret, key, _ := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner", Caveats: []string{"budget calls <= 10"}})
	tok, _ := c.Exchange(ctx, secret)
	child, hop, _ := c.Delegate(ctx, tok, 0, "budget calls <= 4")
	for i := range 5 {
		d, _ := c.Check(ctx, agenttrust.Request{Tool: "search.web", Credential: child})
		fmt.Println(i+1, d.Effect, strings.Replace(d.Rule, hop.ID, "<hop>", 1))
	}
	_, _, err := c.Delegate(ctx, tok, 0, "budget calls <= 7") // only 6 left
	fmt.Println(strings.Replace(err.Error(), key.ID, "<key>", 1))
	// Output:
	// 1 allow all
	// 2 allow all
	// 3 allow all
	// 4 allow all
	// 5 deny budget:<hop>/calls
	// agenttrust: unauthorized: budget refused: budget:<key>/calls: carve exceeds the parent's remaining budget
}

// A JWT spends its key's budget like a token, and a hop NarrowJWT adds
// with a budget is carved at its first use.
func TestBudgetJWT(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 3")
	jwtTok, err := f.c.ExchangeJWT(t.Context(), secret, "agenttrust")
	must.NoError(t, err)
	mustAllow(t, f, jwtTok, "mail.read", nil)
	must.EqualValues(t, 2, remaining(t, f, keyID, "calls"))
	narrow, hop, err := f.c.NarrowJWT(t.Context(), jwtTok, "agenttrust", 0, "budget calls <= 1")
	must.NoError(t, err)
	mustAllow(t, f, narrow, "mail.read", nil)
	mustBudgetDeny(t, f, narrow, "mail.read", nil, "budget:"+hop.ID+"/calls")
	must.EqualValues(t, 1, remaining(t, f, keyID, "calls"))
	_, err = f.c.ExchangeJWT(t.Context(), secret, "agenttrust", "budget calls <= 1")
	must.ErrorIs(t, err, agenttrust.ErrCaveat)
}
