package cedar_test

import (
	"context"
	"slices"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackCedarApproversShared: the PolicyResult Evaluate returns is
// its caller's. Its Approvers were the policy's own list, so a custom
// engine wrapping this one that edits one result (maps a group to a
// person, widens it for one request) rewrote the @approvers of the
// policy for every later request of every client sharing the engine:
// someone the policy never named could then grant what it holds for
// approval. The rule engine copies them (root
// TestAttackRuleEngineApproversShared); so does this one now.
func TestAttackCedarApproversShared(t *testing.T) {
	const src = `@id("refunds") @effect("needs_approval") @approvers("alice") permit (principal, action == Action::"payments.refund", resource);`
	for _, edit := range []struct {
		name string
		f    func(res *agenttrust.PolicyResult)
	}{
		{"widened to anyone", func(res *agenttrust.PolicyResult) { res.Approvers[0] = "*" }},
		{"mapped to a person", func(res *agenttrust.PolicyResult) { res.Approvers[0] = "mallory" }},
	} {
		t.Run(edit.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			in := req("bot", "payments.refund", "order-1")
			res, err := e.Evaluate(context.Background(), &in)
			if err != nil || res.Effect != agenttrust.NeedsApproval {
				t.Fatalf("first: %+v %v", res, err)
			}
			edit.f(&res)
			res, err = e.Evaluate(context.Background(), &in)
			if err != nil || res.Effect != agenttrust.NeedsApproval || !slices.Equal(res.Approvers, []string{"alice"}) {
				t.Errorf("second: %v approvers %q (%v); want needs approval by alice", res.Effect, res.Approvers, err)
			}
		})
	}
}
