package agenttrust_test

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// beforeGrantStore is a memory store that runs hook once, with the
// grant's id, just before it stores the first grant: what an operator
// does once the "agenttrust.remember" record naming the grant is in the
// trail (in durable mode, written before the grant is stored) and before
// ApproveAndRemember has stored it.
type beforeGrantStore struct {
	*memory.Store
	hook func(id string)
}

func (s *beforeGrantStore) CreateGrant(ctx context.Context, g store.Grant) error {
	if h := s.hook; h != nil {
		s.hook = nil
		h(g.ID)
	}
	return s.Store.CreateGrant(ctx, g)
}

// TestAttackGrantRevokedWhileRemembered: ApproveAndRemember records the
// grant, naming its id, before it stores it. An operator (or a responder
// following the audit stream) who revoked that id in between was told
// it was revoked, and the revocation was listed in the store; but Revoke
// found no grant to end yet, the grant was stored after it, and since
// checks did not read revocations of a grant's id, it allowed all its
// uses. A grant now stands only while its id is not revoked, read with
// its approver's standing, so a revocation of its id ends it whenever it
// was stored. Nothing in between lets the grant allow (control).
func TestAttackGrantRevokedWhileRemembered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		revoke  bool
		allowed bool
	}{
		{"grant revoked before it is stored", true, false},
		{"nothing (control)", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := &beforeGrantStore{Store: memory.New()}
			clock := newTestClock()
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, grantRulePolicy)), agenttrust.WithClock(clock.Now), agenttrust.WithRandom(newSeededRandom()),
				agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true}))
			must.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			_, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}})
			must.NoError(t, err)
			req := bindingBase()
			id := held(t, c, req)
			var revoked string
			var revokeErr error
			if tc.revoke {
				st.hook = func(gid string) { revoked, revokeErr = gid, c.Revoke(ctx, gid) }
			}
			actx := actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID})
			g, err := c.ApproveAndRemember(actx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			if tc.revoke {
				must.NoError(t, revokeErr, "the revoke of the grant, before it is stored")
				must.Equal(t, g.ID, revoked)
			}
			// The approval's own request uses the approval; later ones
			// the grant.
			d, err := c.Check(ctx, req)
			must.NoError(t, err)
			must.True(t, d.Allowed(), "the approved request itself: %+v", d)
			req.Resource = "cust-2"
			d, err = c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, tc.allowed, d.Allowed(), "grant %s, revoked before ApproveAndRemember stored it: %+v", g.ID, d)
			gs, err := c.Grants(ctx, "")
			must.NoError(t, err)
			must.Equal(t, 1, len(gs))
			if !tc.allowed {
				must.Equal(t, agenttrust.NeedsApproval, d.Effect)
				must.Equal(t, 0, gs[0].UsesLeft, "a revoked grant is listed as allowing nothing")
			}
		})
	}
}
