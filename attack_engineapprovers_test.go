package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackRuleEngineApproversShared: the PolicyResult the rule engine
// (NewRuleEngine) returns is its caller's. A custom engine that wraps it
// and edits the Approvers of one result (maps a group to people, widens
// it for one request) must not rewrite the rule itself: otherwise every
// later result of the engine, for every client sharing it, names the
// edited approvers, and someone the policy never named may grant what
// the rule holds for approval.
func TestAttackRuleEngineApproversShared(t *testing.T) {
	ctx := context.Background()
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: refunds
    effect: needs_approval
    tools: [payments.refund]
    approvers: [alice]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(res *agenttrust.PolicyResult)
	}{
		{"a wrapper widens one result to anyone", func(res *agenttrust.PolicyResult) { res.Approvers[0] = "*" }},
		{"a wrapper maps the group to a person", func(res *agenttrust.PolicyResult) { res.Approvers[0] = "mallory" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := agenttrust.NewRuleEngine(p)
			if err != nil {
				t.Fatal(err)
			}
			// The wrapper edits the result of one request: the first.
			edited := false
			wrapper := agenttrust.PolicyEngineFunc(func(ctx context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
				res, err := rules.Evaluate(ctx, in)
				if !edited && len(res.Approvers) > 0 {
					edited = true
					tc.edit(&res)
				}
				return res, err
			})
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(wrapper))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "payments.refund", Resource: "order-1"}); err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("first request: %v %v", d.Effect, err)
			}
			// Another request, not edited by the wrapper: only alice may
			// approve it.
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "payments.refund", Resource: "order-2"})
			if err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("second request: %v %v", d.Effect, err)
			}
			err = c.Approve(ctx, d.ApprovalID, "mallory", "")
			if !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("mallory approved a request the rule holds for alice: %v", err)
			}
			d, err = c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "payments.refund", Resource: "order-2"})
			if err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Errorf("second request again: %v %v; want it still waiting for alice", d.Effect, err)
			}
		})
	}
}
