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

// beforeUseStore is a memory store that runs hook once, just before the
// first grant use it is asked for: what another node or an operator does
// between a check's reads of a grant's standing and its use of it.
type beforeUseStore struct {
	*memory.Store
	hook func()
}

func (s *beforeUseStore) UseGrant(ctx context.Context, tenant, id string, now time.Time) (store.Grant, error) {
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
	return s.Store.UseGrant(ctx, tenant, id, now)
}

// TestAttackGrantUseRacesItsEnd: a check reads that a grant's approval
// stands and that its approver and the approver's key are not stopped,
// and then takes a use. The approval withdrawn, the key revoked or the
// approver suspended in between (each reported done to the operator)
// did not stop that use: the check allowed after the end had returned.
// The check holds the grant to its standing again once it has the use,
// so an end that returned before the use is never outlived. Nothing
// happening in between changes nothing (control).
func TestAttackGrantUseRacesItsEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		end     func(ctx context.Context, c *agenttrust.Client, approval, key string) error
		allowed bool
	}{
		{"approval withdrawn", func(ctx context.Context, c *agenttrust.Client, approval, _ string) error {
			return c.DenyApproval(ctx, approval, "alice", "withdrawn")
		}, false},
		{"approver's key revoked", func(ctx context.Context, c *agenttrust.Client, _, key string) error { return c.Revoke(ctx, key) }, false},
		{"approver suspended", func(ctx context.Context, c *agenttrust.Client, _, _ string) error {
			return c.Suspend(ctx, "bob", "rogue")
		}, false},
		{"nothing (control)", func(context.Context, *agenttrust.Client, string, string) error { return nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := &beforeUseStore{Store: memory.New()}
			clock := newTestClock()
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, grantRulePolicy)), agenttrust.WithClock(clock.Now), agenttrust.WithRandom(newSeededRandom()))
			must.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			_, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}})
			must.NoError(t, err)
			req := bindingBase()
			id := held(t, c, req)
			actx := actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID})
			g, err := c.ApproveAndRemember(actx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			must.NoError(t, err)
			var endErr error
			st.hook = func() { endErr = tc.end(ctx, c, id, key.ID) }
			req.Resource = "cust-2"
			d, err := c.Check(ctx, req)
			must.NoError(t, err)
			must.NoError(t, endErr, "the end, between the check's reads and its use")
			must.Equal(t, tc.allowed, d.Allowed(), "grant %s, its end returned before its use: %+v", g.ID, d)
			if !tc.allowed {
				must.Equal(t, agenttrust.NeedsApproval, d.Effect)
			}
		})
	}
}
