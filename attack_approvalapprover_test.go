package agenttrust_test

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
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

// TestAttackApprovalOutlivesApproverKey: an approver approves through the
// server with its API key, and the key is then revoked (it leaked),
// suspended or reaches its expiry. The approval named only the
// approver's agent, so it still let its request through once, for the
// grant TTL after. Revoking another key of the approver changes nothing
// (control).
func TestAttackApprovalOutlivesApproverKey(t *testing.T) {
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
			f.clock.Advance(2 * time.Minute)
			return nil
		}, false},
		{"another key of the approver revoked (control)", func(ctx context.Context, f *fixture, _, other string) error {
			return f.c.Revoke(ctx, other)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, grantRulePolicy)
			_, key, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}, ExpiresAt: f.clock.Now().Add(time.Minute)})
			must.NoError(t, err)
			_, other, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}})
			must.NoError(t, err)
			req := bindingBase()
			id := held(t, f.c, req)
			actx := actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID})
			must.NoError(t, f.c.Approve(actx, id, "bob", ""))
			must.NoError(t, tc.stop(ctx, f, key.ID, other.ID))
			d, err := f.c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, tc.allowed, d.Allowed(), "approval %s by bob's key %s: %+v", id, key.ID, d)
			if !tc.allowed {
				must.Equal(t, agenttrust.NeedsApproval, d.Effect)
				must.True(t, d.ApprovalID != id, "the check waits on the approval of the stopped key")
			}
		})
	}
}
