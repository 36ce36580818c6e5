package agenttrust_test

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackGrantOutlivesApproverKey: an approver remembers an approval
// through the server, with its API key (up to 10,000 uses over 30 days).
// The key leaks and the operator revokes it, or the key reaches the end
// of its life: the grants that key made must allow nothing more, as its
// approvals made now would be refused. The grant named only the agent, so
// a revoked or expired key left every grant it made allowing. Revoking
// another key of the same approver changes nothing (control).
func TestAttackGrantOutlivesApproverKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stop    func(ctx context.Context, f *fixture, key, other string) error
		allowed bool
	}{
		{"approver's key revoked", func(ctx context.Context, f *fixture, key, _ string) error { return f.c.Revoke(ctx, key) }, false},
		{"approver's key suspended", func(ctx context.Context, f *fixture, key, _ string) error {
			return f.c.Suspend(ctx, key, "leaked")
		}, false},
		{"approver's key expired", func(ctx context.Context, f *fixture, _, _ string) error {
			f.clock.Advance(20 * time.Minute)
			return nil
		}, false},
		{"another key of the approver revoked (control)", func(ctx context.Context, f *fixture, _, other string) error {
			return f.c.Revoke(ctx, other)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, grantRulePolicy)
			_, key, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}, ExpiresAt: f.clock.Now().Add(15 * time.Minute)})
			must.NoError(t, err)
			_, other, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}})
			must.NoError(t, err)
			req := bindingBase()
			id := held(t, f.c, req)
			// As the server calls it: the approver authenticated by key.
			actx := actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID})
			g, err := f.c.ApproveAndRemember(actx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			must.NoError(t, err)
			must.NoError(t, tc.stop(ctx, f, key.ID, other.ID))
			req.Resource = "cust-2"
			d, err := f.c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, tc.allowed, d.Allowed(), "grant %s by bob's key %s: %+v", g.ID, key.ID, d)
			if !tc.allowed {
				must.Equal(t, agenttrust.NeedsApproval, d.Effect)
			}
		})
	}
}
