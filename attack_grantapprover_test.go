package agenttrust_test

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackGrantOutlivesStoppedApprover: a remembered approval (a grant)
// is its approver's standing word, up to 10,000 uses over 30 days. An
// operator who stops a rogue or compromised approver (suspends or revokes
// its agent) must not find the grants it made still allowing: they allow
// nothing more while it is stopped. Stopping someone else changes nothing
// (control).
func TestAttackGrantOutlivesStoppedApprover(t *testing.T) {
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
			req.OnBehalfOf = "customer-7"
			id := held(t, f.c, req)
			g, err := f.c.ApproveAndRemember(ctx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			must.NoError(t, err)
			must.NoError(t, tc.stop(ctx, f.c))
			req.Resource = "cust-2"
			d, err := f.c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, tc.allowed, d.Allowed(), "grant %s by bob: %+v", g.ID, d)
			if !tc.allowed {
				must.Equal(t, agenttrust.NeedsApproval, d.Effect)
			}
		})
	}
}
