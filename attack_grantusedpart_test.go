package agenttrust_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackPartlyUsedGrantOutlivesLoweredRememberUses: an operator
// lowers a rule's remember_uses after an incident. A grant made with
// more uses than the rule now allows must end, however many it has used:
// the store kept only the uses left, so a grant made with 5 that had used
// some held no more than the lowered bound and went on allowing, up to
// 5 uses in all under a rule that now allows 2. Lowered to no less than
// the grant was made with, or raised, it goes on (controls).
func TestAttackPartlyUsedGrantOutlivesLoweredRememberUses(t *testing.T) {
	rule := func(uses int) string {
		return fmt.Sprintf(`
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge]
    reason: money moves
    approvers: [alice, bob]
    remember_uses: %d
    remember_for: 1h
`, uses)
	}
	for _, tc := range []struct {
		used, lowered int // of the grant's 5 uses; the rule's remember_uses after
		allowed       bool
	}{
		{used: 1, lowered: 4},
		{used: 2, lowered: 3},
		{used: 3, lowered: 2},
		{used: 4, lowered: 1},
		{used: 3, lowered: 4},
		{used: 3, lowered: 5, allowed: true},  // unchanged (control)
		{used: 3, lowered: 50, allowed: true}, // raised (control)
	} {
		t.Run(fmt.Sprintf("%d used, remember_uses %d", tc.used, tc.lowered), func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, rule(5))
			req := bindingBase()
			id := held(t, f.c, req)
			g, err := f.c.ApproveAndRemember(ctx, id, "alice", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			must.NoError(t, err)
			req.Resource = "cust-2"
			for i := range tc.used {
				d, err := f.c.Check(ctx, req)
				must.NoError(t, err)
				must.Equal(t, g.ID, d.ApprovalID, "use %d of the grant: %+v", i+1, d)
			}
			must.NoError(t, f.c.SetPolicy(mustPolicy(t, rule(tc.lowered))))
			d, err := f.c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, tc.allowed, d.Allowed(), "grant %s (5 uses, %d used) under remember_uses %d: %+v", g.ID, tc.used, tc.lowered, d)
			if !tc.allowed {
				must.Equal(t, agenttrust.NeedsApproval, d.Effect)
			}
		})
	}
}
