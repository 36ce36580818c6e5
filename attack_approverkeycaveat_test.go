package agenttrust_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackApprovalOutlivesApproverKeyCaveat: an approver key may end by
// an "expires < T" caveat rather than by its ExpiresAt (an expiry is not
// a narrowing caveat, so an approver key may carry one). Past T the key
// authenticates nothing, yet the approval it decided and the grant it
// made still let requests through: only ExpiresAt was read. The same
// key still live (control) allows.
func TestAttackApprovalOutlivesApproverKeyCaveat(t *testing.T) {
	for _, tc := range []struct {
		name     string
		remember bool
		after    time.Duration
		allowed  bool
	}{
		{"approval, key past its expires caveat", false, 2 * time.Minute, false},
		{"grant, key past its expires caveat", true, 2 * time.Minute, false},
		{"approval, key live (control)", false, 30 * time.Second, true},
		{"grant, key live (control)", true, 30 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, grantRulePolicy)
			end := f.clock.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
			secret, key, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover},
				Caveats: []string{"expires < " + end}})
			must.NoError(t, err)
			req := bindingBase()
			id := held(t, f.c, req)
			actx := actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID})
			if tc.remember {
				_, err = f.c.ApproveAndRemember(actx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
				must.NoError(t, err)
				// The approval's own request uses it; the grant is what is left.
				d, err := f.c.Check(ctx, req)
				must.NoError(t, err)
				must.Equal(t, id, d.ApprovalID)
				req.Resource = "cust-2"
			} else {
				must.NoError(t, f.c.Approve(actx, id, "bob", ""))
			}
			f.clock.Advance(tc.after)
			if _, err := f.c.Authenticate(ctx, secret, netip.Addr{}); !tc.allowed && !errors.Is(err, agenttrust.ErrExpired) {
				t.Fatalf("the key past its caveat authenticates: %v", err)
			}
			d, err := f.c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, tc.allowed, d.Allowed(), "decided by bob's key %s, %v later: %+v", key.ID, tc.after, d)
			if !tc.allowed {
				must.Equal(t, agenttrust.NeedsApproval, d.Effect)
			}
			if tc.remember {
				gs, err := f.c.Grants(ctx, "")
				must.NoError(t, err)
				must.Equal(t, 1, len(gs))
				must.Equal(t, tc.allowed, gs[0].UsesLeft > 0, "grant listed %+v", gs[0])
			}
		})
	}
}
