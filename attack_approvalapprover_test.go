package agenttrust_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackApprovalOutlivesStoppedApprover: a rogue or compromised
// approver approves pending requests; the operator stops it (suspends
// or revokes its agent). Its grants allowed nothing more, but each
// approval it had approved still let its request through once, for the
// grant TTL after: the kill switch on the approver did not cover its
// last decisions. Stopping someone else changes nothing (control).
func TestAttackApprovalOutlivesStoppedApprover(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stop    func(ctx context.Context, c *agenttrust.Client) error
		allowed bool
	}{
		{"approver suspended", func(ctx context.Context, c *agenttrust.Client) error { return c.Suspend(ctx, "bob", "rogue approver") }, false},
		{"approver revoked", func(ctx context.Context, c *agenttrust.Client) error { return c.Revoke(ctx, "bob") }, false},
		{"another approver suspended (control)", func(ctx context.Context, c *agenttrust.Client) error { return c.Suspend(ctx, "alice", "away") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, grantRulePolicy)
			req := bindingBase()
			id := held(t, f.c, req)
			must.NoError(t, f.c.Approve(ctx, id, "bob", ""))
			must.NoError(t, tc.stop(ctx, f.c))
			d, err := f.c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, tc.allowed, d.Allowed(), "approval %s by bob: %+v", id, d)
			if !tc.allowed {
				must.Equal(t, agenttrust.NeedsApproval, d.Effect)
				must.True(t, d.ApprovalID != id, "the check waits on the approval of the stopped approver")
				a, err := f.c.Approval(ctx, id)
				must.NoError(t, err)
				must.True(t, a.Status != agenttrust.ApprovalApproved, "the stopped approver's approval is still approved: %+v", a)
			}
		})
	}
}
