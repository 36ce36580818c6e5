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

// TestAttackGrantOutlivesRuleChange: a remembered approval (grant) made
// by alice under rule "money" keeps allowing requests after the rule is
// changed so that alice may no longer approve, its reason changed, or it
// no longer allows remembering at all. A one-shot approval stops applying
// in each case (TestAttackApprovalBinding).
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
			f := newFixture(t, grantRulePolicy)
			ctx := context.Background()
			id := held(t, f.c, bindingBase())
			g, err := f.c.ApproveAndRemember(ctx, id, "alice", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.c.SetPolicy(mustPolicy(t, tc.policy)); err != nil {
				t.Fatal(err)
			}
			req := bindingBase()
			req.Resource = "cust-2"
			d, err := f.c.Check(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed() != tc.allowed {
				t.Fatalf("after the policy change, grant %s (by alice) allows: %v, want %v: %+v", g.ID, d.Allowed(), tc.allowed, d)
			}
		})
	}
}

// TestAttackStaleApprovalRememberedUnderNewRule: an approval opened while
// alice was an approver of rule "money" is remembered by alice after the
// rule was changed to name only bob; the grant then allows requests the
// changed rule holds for bob's approval.
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
