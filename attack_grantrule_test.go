package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

const grantRulePolicy = `
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge]
    reason: money moves
    approvers: [alice, bob]
    remember_uses: 5
    remember_for: 1h
`

// grantUnderChangedRule has alice approve and remember (5 uses, 1h, cust-*)
// a request held by grantRulePolicy, replaces the policy with policy,
// advances the clock by after, and checks a request the grant covers.
func grantUnderChangedRule(t *testing.T, policy string, after time.Duration) (agenttrust.Decision, store.Grant) {
	t.Helper()
	f := newFixture(t, grantRulePolicy)
	ctx := context.Background()
	id := held(t, f.c, bindingBase())
	g, err := f.c.ApproveAndRemember(ctx, id, "alice", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.SetPolicy(mustPolicy(t, policy)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(after)
	req := bindingBase()
	req.Resource = "cust-2"
	d, err := f.c.Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return d, g
}

// TestAttackGrantOutlivesRuleChange: a remembered approval (a grant) is
// bound to the rule as its approver saw it (id, reason, approvers) and to
// the rule still allowing remembering: a policy change to any of them
// ends it, as it ends a one-shot approval.
func TestAttackGrantOutlivesRuleChange(t *testing.T) {
	for _, tc := range []struct {
		name, policy string
		allowed      bool
	}{
		{"the rule unchanged (control)", grantRulePolicy, true},
		{"the rule's approvers changed", `
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge]
    reason: money moves
    approvers: [bob]
    remember_uses: 5
    remember_for: 1h
`, false},
		{"the rule's reason changed", `
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge]
    reason: only the CFO may approve now
    approvers: [alice, bob]
    remember_uses: 5
    remember_for: 1h
`, false},
		{"the rule no longer allows remembering", `
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge]
    reason: money moves
    approvers: [alice, bob]
`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, g := grantUnderChangedRule(t, tc.policy, 0)
			if d.Allowed() != tc.allowed {
				t.Fatalf("after the policy change, grant %s (by alice) allows: %v, want %v: %+v", g.ID, d.Allowed(), tc.allowed, d)
			}
		})
	}
}

// TestAttackStaleApprovalRememberedUnderNewRule: an approval opened under
// a rule since changed cannot be remembered: its approver may no longer
// be one, and the grant would allow later requests the new rule holds.
func TestAttackStaleApprovalRememberedUnderNewRule(t *testing.T) {
	f := newFixture(t, grantRulePolicy)
	ctx := context.Background()
	id := held(t, f.c, bindingBase())
	if err := f.c.SetPolicy(mustPolicy(t, `
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge]
    reason: money moves
    approvers: [bob]
    remember_uses: 5
    remember_for: 1h
`)); err != nil {
		t.Fatal(err)
	}
	g, err := f.c.ApproveAndRemember(ctx, id, "alice", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"*"}})
	if err == nil {
		t.Fatalf("alice, no longer an approver of rule money, remembered approval %s as grant %s", id, g.ID)
	}
	if !errors.Is(err, agenttrust.ErrInvalidRequest) {
		t.Fatalf("ApproveAndRemember: %v; want ErrInvalidRequest", err)
	}
	req := bindingBase()
	req.Resource = "cust-9"
	if d, err := f.c.Check(ctx, req); err != nil || d.Effect != agenttrust.NeedsApproval {
		t.Fatalf("a later request: %v %v; want needs_approval", d.Effect, err)
	}
}
