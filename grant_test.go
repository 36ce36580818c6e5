package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

const rememberPolicy = `
rules:
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot, other-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    remember_uses: 5
    remember_for: 1h
  - id: refunds
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.refund = true"]
  - id: huge-charges
    effect: deny
    tools: [payments.charge]
    when: ["attr.amount > 1000"]
`

func pay(resource string, amount int) agenttrust.Request {
	return agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge", Resource: resource, OnBehalfOf: "alice",
		Attributes: map[string]any{"amount": amount}}
}

// held checks req, wants it held for approval, and returns the approval.
func held(t *testing.T, c *agenttrust.Client, req agenttrust.Request) string {
	t.Helper()
	d, err := c.Check(context.Background(), req)
	must.NoError(t, err)
	must.Equal(t, agenttrust.NeedsApproval, d.Effect, "decision %+v", d)
	return d.ApprovalID
}

func TestApproveAndRemember(t *testing.T) {
	f := newFixture(t, rememberPolicy)
	ctx := context.Background()
	id := held(t, f.c, pay("cust-1", 60))
	g, err := f.c.ApproveAndRemember(ctx, id, "carol", "regular supplier",
		store.Remember{Uses: 2, For: 30 * time.Minute, Resources: []string{"cust-*"}})
	must.NoError(t, err)
	expect.True(t, strings.HasPrefix(g.ID, "grt_"), g.ID)
	expect.Equal(t, 2, g.UsesLeft)

	// The approved request itself uses its approval, not the grant.
	d, err := f.c.Check(ctx, pay("cust-1", 60))
	must.NoError(t, err)
	must.Equal(t, id, d.ApprovalID)
	// Two like it (other amounts, other covered customers) use the grant...
	for _, req := range []agenttrust.Request{pay("cust-2", 70), pay("cust-1", 900)} {
		d, err := f.c.Check(ctx, req)
		must.NoError(t, err)
		expect.Equal(t, agenttrust.Allow, d.Effect)
		expect.Equal(t, g.ID, d.ApprovalID)
		expect.Equal(t, "remembered approval by carol", d.Reason)
	}
	// ...and then it is used up.
	held(t, f.c, pay("cust-3", 60))

	recs := f.records(t)
	var remembered, allowedByGrant int
	for _, r := range recs {
		if r.Tool == "agenttrust.remember" && r.Resource == g.ID && r.ApprovalID == id {
			remembered++
			expect.Contains(t, string(r.Attributes), `"uses":"2"`)
			expect.Contains(t, string(r.Attributes), `"resources":"cust-*"`)
		}
		if r.Tool == "payments.charge" && r.ApprovalID == g.ID && r.Effect == agenttrust.Allow {
			allowedByGrant++
		}
	}
	expect.Equal(t, 1, remembered, "the grant's own audit record")
	expect.Equal(t, 2, allowedByGrant, "decisions naming the grant")
}

// What a grant must never let through.
func TestGrantBounds(t *testing.T) {
	f := newFixture(t, rememberPolicy)
	ctx := context.Background()
	id := held(t, f.c, pay("cust-1", 60))
	g, err := f.c.ApproveAndRemember(ctx, id, "carol", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
	must.NoError(t, err)
	_, _ = f.c.Check(ctx, pay("cust-1", 60)) // the approval's own use

	other := pay("cust-1", 60)
	other.AgentID = "other-bot"
	behalf := pay("cust-1", 60)
	behalf.OnBehalfOf = "mallory"
	refund := pay("cust-1", 10)
	refund.Attributes["refund"] = true
	for name, req := range map[string]agenttrust.Request{
		"another agent":          other,
		"another principal":      behalf,
		"a resource not covered": pay("vendor-1", 60),
		"another rule that asks": refund,
	} {
		t.Run(name, func(t *testing.T) { held(t, f.c, req) })
	}
	t.Run("a deny rule still denies", func(t *testing.T) {
		d, err := f.c.Check(ctx, pay("cust-1", 5000))
		must.NoError(t, err)
		expect.Equal(t, agenttrust.Deny, d.Effect)
		expect.Equal(t, "huge-charges", d.Rule)
	})
	t.Run("expired", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		held(t, f.c, pay("cust-2", 60))
		f.clock.Advance(-time.Hour)
	})
	t.Run("revoked", func(t *testing.T) {
		d, err := f.c.Check(ctx, pay("cust-2", 60))
		must.NoError(t, err)
		must.Equal(t, g.ID, d.ApprovalID, "the grant works before Revoke")
		must.NoError(t, f.c.Revoke(ctx, g.ID))
		held(t, f.c, pay("cust-2", 60))
	})
}

func TestRememberRefused(t *testing.T) {
	f := newFixture(t, rememberPolicy)
	ctx := context.Background()
	id := held(t, f.c, pay("cust-1", 60))
	refundReq := pay("cust-1", 10)
	refundReq.Attributes["refund"] = true
	refund := held(t, f.c, refundReq)
	for _, tc := range []struct {
		name, id, approver string
		r                  store.Remember
		want               error
	}{
		{"more uses than the rule allows", id, "carol", store.Remember{Uses: 6, For: time.Minute}, agenttrust.ErrInvalidRequest},
		{"no uses", id, "carol", store.Remember{Uses: 0, For: time.Minute}, agenttrust.ErrInvalidRequest},
		{"longer than the rule allows", id, "carol", store.Remember{Uses: 1, For: 2 * time.Hour}, agenttrust.ErrInvalidRequest},
		{"a bad glob", id, "carol", store.Remember{Uses: 1, For: time.Minute, Resources: []string{"cust-[1"}}, agenttrust.ErrInvalidRequest},
		{"a rule that does not allow it", refund, "carol", store.Remember{Uses: 1, For: time.Minute}, agenttrust.ErrInvalidRequest},
		{"the agent itself", id, "billing-bot", store.Remember{Uses: 1, For: time.Minute}, errs.ApproverNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.c.ApproveAndRemember(ctx, tc.id, tc.approver, "", tc.r)
			must.ErrorIs(t, err, tc.want)
			a, err := f.c.Approval(ctx, tc.id)
			must.NoError(t, err)
			expect.Equal(t, agenttrust.ApprovalPending, a.Status, "a refused remember decided the approval")
		})
	}

	t.Run("a store without grants", func(t *testing.T) {
		p, err := agenttrust.ParsePolicy([]byte(rememberPolicy), "yaml")
		must.NoError(t, err)
		c, err := agenttrust.New(noGrants{memory.New()}, agenttrust.WithPolicy(p))
		must.NoError(t, err)
		defer c.Close()
		id := held(t, c, pay("cust-1", 60))
		_, err = c.ApproveAndRemember(ctx, id, "carol", "", store.Remember{Uses: 1, For: time.Minute})
		must.ErrorIs(t, err, agenttrust.ErrInvalidConfig)
		a, err := c.Approval(ctx, id)
		must.NoError(t, err)
		expect.Equal(t, agenttrust.ApprovalPending, a.Status)
	})
}

// noGrants hides the memory store's grants.
type noGrants struct{ store.Store }

// Checks racing for a grant's last uses get exactly as many as it has.
func TestGrantUsesUnderRace(t *testing.T) {
	f := newFixture(t, rememberPolicy)
	ctx := context.Background()
	id := held(t, f.c, pay("cust-0", 60))
	g, err := f.c.ApproveAndRemember(ctx, id, "carol", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
	must.NoError(t, err)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			d, err := f.c.Check(ctx, pay("cust-"+strings.Repeat("9", i%5+1), 60))
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
			if d.Allowed() {
				if d.ApprovalID != g.ID {
					t.Errorf("allowed by %q", d.ApprovalID)
				}
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	expect.Equal(t, int64(5), allowed.Load())
}

func TestRememberPolicyValidation(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"{id: r, effect: allow, remember_uses: 1, remember_for: 1h}", "only meaningful on a needs_approval rule"},
		{"{id: r, effect: needs_approval, remember_uses: 1}", "remember_for"},
		{"{id: r, effect: needs_approval, remember_for: 1h}", "remember_uses 0"},
		{"{id: r, effect: needs_approval, remember_uses: 10001, remember_for: 1h}", "remember_uses 10001"},
		{"{id: r, effect: needs_approval, remember_uses: 1, remember_for: 721h}", "remember_for"},
	} {
		_, err := agenttrust.ParsePolicy([]byte("rules:\n  - "+tc.rule+"\n"), "yaml")
		must.ErrorIs(t, err, agenttrust.ErrInvalidPolicy, tc.rule)
		expect.ErrorContains(t, err, tc.want, tc.rule)
	}
}

// TestGrantsListsWhatChecksUse: Client.Grants lists the grants a check
// would use now, with the uses it would still allow and the end its rule
// sets, and leaves out those that allow nothing more.
func TestGrantsListsWhatChecksUse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, rememberPolicy)
	g, err := f.c.ApproveAndRemember(ctx, held(t, f.c, pay("cust-1", 60)), "carol", "", store.Remember{Uses: 3, For: 2 * time.Hour, Resources: []string{"cust-*"}})
	if err == nil || !strings.Contains(err.Error(), "allows up to 1h") {
		t.Fatalf("remember for 2h under remember_for 1h: %v", err)
	}
	g, err = f.c.ApproveAndRemember(ctx, held(t, f.c, pay("cust-2", 60)), "carol", "", store.Remember{Uses: 3, For: time.Hour, Resources: []string{"cust-*"}})
	must.NoError(t, err)
	expect.Equal(t, 3, g.Uses)
	d, err := f.c.Check(ctx, pay("cust-3", 70))
	must.NoError(t, err)
	must.Equal(t, g.ID, d.ApprovalID)

	list, err := f.c.Grants(ctx, "")
	must.NoError(t, err)
	must.Equal(t, 1, len(list))
	expect.Equal(t, g.ID, list[0].ID)
	expect.Equal(t, 2, list[0].UsesLeft)
	expect.Equal(t, 3, list[0].Uses)
	for _, agent := range []string{"billing-bot", "other-bot"} {
		list, err := f.c.Grants(ctx, agent)
		must.NoError(t, err)
		expect.Equal(t, agent == "billing-bot", len(list) == 1, "grants of %s: %v", agent, list)
	}
	_, err = f.c.Grants(ctx, "bad\x00agent")
	must.True(t, errors.Is(err, agenttrust.ErrInvalidRequest), "a bad agent id: %v", err)

	// A shorter remember_for brings the listed end forward.
	must.NoError(t, f.c.SetPolicy(mustPolicy(t, strings.Replace(rememberPolicy, "remember_for: 1h", "remember_for: 10m", 1))))
	list, err = f.c.Grants(ctx, "")
	must.NoError(t, err)
	must.Equal(t, 1, len(list))
	expect.True(t, list[0].ExpiresAt.Equal(g.CreatedAt.Add(10*time.Minute)), "listed end %v", list[0].ExpiresAt)
	// A lower remember_uses than the grant was made with ends it: listed
	// with no use left, and revivable by raising the bound again.
	must.NoError(t, f.c.SetPolicy(mustPolicy(t, strings.Replace(rememberPolicy, "remember_uses: 5", "remember_uses: 2", 1))))
	list, err = f.c.Grants(ctx, "")
	must.NoError(t, err)
	must.Equal(t, 1, len(list))
	expect.Equal(t, 0, list[0].UsesLeft, "a grant made with 3 uses under remember_uses 2")
	d, err = f.c.Check(ctx, pay("cust-4", 70))
	must.NoError(t, err)
	expect.Equal(t, agenttrust.NeedsApproval, d.Effect)
	// Revoked, it is gone for good.
	must.NoError(t, f.c.Revoke(ctx, g.ID))
	list, err = f.c.Grants(ctx, "")
	must.NoError(t, err)
	expect.Equal(t, 0, len(list), "a revoked grant listed: %v", list)
}
