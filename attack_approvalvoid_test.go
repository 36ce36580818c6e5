package agenttrust_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackStoppedApprovalReadsConsumed: an approver approves a request
// and is stopped (its agent suspended, its key revoked or expired)
// before the request comes back. The check uses the approval up and
// allows nothing, but the approval then read "consumed", as if it had let
// its request through: an operator, a waiting caller or an auditor
// reading it was told the stopped approver's word had been acted on.
// It must say what happened: denied, allowing nothing, and why. An
// approval whose approver stands reads consumed (control).
func TestAttackStoppedApprovalReadsConsumed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stop    func(ctx context.Context, f *fixture, key string) error
		allowed bool
	}{
		{"approver suspended", func(ctx context.Context, f *fixture, _ string) error { return f.c.Suspend(ctx, "bob", "rogue") }, false},
		{"approver's key revoked", func(ctx context.Context, f *fixture, key string) error { return f.c.Revoke(ctx, key) }, false},
		{"approver's key expired", func(ctx context.Context, f *fixture, _ string) error {
			f.clock.Advance(2 * time.Minute)
			return nil
		}, false},
		{"approver stands (control)", func(context.Context, *fixture, string) error { return nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, grantRulePolicy)
			_, key, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}, ExpiresAt: f.clock.Now().Add(time.Minute)})
			must.NoError(t, err)
			req := bindingBase()
			id := held(t, f.c, req)
			must.NoError(t, f.c.Approve(actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID}), id, "bob", "looks fine"))
			must.NoError(t, tc.stop(ctx, f, key.ID))
			d, err := f.c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, tc.allowed, d.Allowed(), "%+v", d)
			a, err := f.c.Approval(ctx, id)
			must.NoError(t, err)
			if tc.allowed {
				must.Equal(t, agenttrust.ApprovalConsumed, a.Status)
				return
			}
			must.Equal(t, agenttrust.ApprovalDenied, a.Status, "approval %s allowed nothing: %+v", id, a)
			must.True(t, strings.Contains(a.Note, "allowed nothing"), "approval %s's note does not say what happened: %q", id, a.Note)
			list, err := f.c.Approvals(ctx, agenttrust.ApprovalFilter{Status: agenttrust.ApprovalConsumed})
			must.NoError(t, err)
			must.Equal(t, 0, len(list), "listed as consumed: %+v", list)
		})
	}
}
