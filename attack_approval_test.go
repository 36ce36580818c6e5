package agenttrust_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

const bindingPolicy = `
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge, payments.refund]
    reason: money moves
    approvers: [alice, bob]
  - id: rest
    effect: allow
`

func bindingBase() agenttrust.Request {
	return agenttrust.Request{
		AgentID: "billing-bot", Tool: "payments.charge", Resource: "cust-1", SessionID: "s1", OnBehalfOf: "alice",
		Attributes: map[string]any{"amount": 60, "currency": "EUR"},
	}
}

// TestAttackApprovalBinding: a granted approval allows only the request
// its approver was shown, every field of it, under the rule shown.
func TestAttackApprovalBinding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vary   func(r *agenttrust.Request)
		policy string // when set, the policy in force when the variant is checked
	}{
		{name: "on_behalf_of another principal", vary: func(r *agenttrust.Request) { r.OnBehalfOf = "mallory" }},
		{name: "on_behalf_of dropped", vary: func(r *agenttrust.Request) { r.OnBehalfOf = "" }},
		{name: "on_behalf_of differs in case", vary: func(r *agenttrust.Request) { r.OnBehalfOf = "Alice" }},
		{name: "another agent", vary: func(r *agenttrust.Request) { r.AgentID = "other-bot" }},
		{name: "another tool under the same rule", vary: func(r *agenttrust.Request) { r.Tool = "payments.refund" }},
		{name: "another resource", vary: func(r *agenttrust.Request) { r.Resource = "cust-2" }},
		{name: "resource dropped", vary: func(r *agenttrust.Request) { r.Resource = "" }},
		{name: "another session", vary: func(r *agenttrust.Request) { r.SessionID = "s2" }},
		{name: "session dropped", vary: func(r *agenttrust.Request) { r.SessionID = "" }},
		{name: "attribute value", vary: func(r *agenttrust.Request) { r.Attributes["amount"] = 6000 }},
		{name: "attribute type", vary: func(r *agenttrust.Request) { r.Attributes["amount"] = "60" }},
		{name: "attribute added", vary: func(r *agenttrust.Request) { r.Attributes["to"] = "mallory" }},
		{name: "attribute removed", vary: func(r *agenttrust.Request) { delete(r.Attributes, "currency") }},
		{name: "attribute renamed", vary: func(r *agenttrust.Request) { delete(r.Attributes, "currency"); r.Attributes["Currency"] = "EUR" }},
		{name: "field boundary moved", vary: func(r *agenttrust.Request) { r.Resource, r.SessionID = "cust-1s1", "" }},
		{name: "another rule asks", policy: `
rules:
  - id: money-v2
    effect: needs_approval
    tools: [payments.charge, payments.refund]
    reason: money moves
    approvers: [alice, bob]
`},
		{name: "the rule's approvers changed", policy: `
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge, payments.refund]
    reason: money moves
    approvers: [bob]
`},
		{name: "the rule's reason changed", policy: `
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge, payments.refund]
    reason: small refunds only
    approvers: [alice, bob]
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, bindingPolicy)
			ctx := context.Background()
			d, err := f.c.Check(ctx, bindingBase())
			if err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("first check: %+v %v", d, err)
			}
			id := d.ApprovalID
			if err := f.c.Approve(ctx, id, "alice", "the charge for alice"); err != nil {
				t.Fatal(err)
			}
			variant := bindingBase()
			if tc.vary != nil {
				tc.vary(&variant)
			}
			if tc.policy != "" {
				if err := f.c.SetPolicy(mustPolicy(t, tc.policy)); err != nil {
					t.Fatal(err)
				}
			}
			d, err = f.c.Check(ctx, variant)
			if err != nil || d.Allowed() || d.Effect != agenttrust.NeedsApproval || d.ApprovalID == id {
				t.Fatalf("the variant used the approval: %+v %v", d, err)
			}
			if a, err := f.c.Approval(ctx, id); err != nil || a.Status != store.ApprovalApproved {
				t.Fatalf("the grant after the variant: %v %v", a.Status, err)
			}
			// Control: the request the approver saw, under the rule it
			// saw, is allowed with the grant.
			if tc.policy != "" {
				if err := f.c.SetPolicy(mustPolicy(t, bindingPolicy)); err != nil {
					t.Fatal(err)
				}
			}
			if d, err := f.c.Check(ctx, bindingBase()); err != nil || !d.Allowed() || d.ApprovalID != id {
				t.Fatalf("the approved request: %+v %v", d, err)
			}
		})
	}
}
