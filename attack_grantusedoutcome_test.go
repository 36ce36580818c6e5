package agenttrust_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// grantUsedBeforeAnswer is a store whose CreateGrant commits, then runs
// hook (requests checked meanwhile) and then loses its answer, as a link
// cut on the way back would.
type grantUsedBeforeAnswer struct {
	*memory.Store
	hook func()
}

func (s *grantUsedBeforeAnswer) CreateGrant(ctx context.Context, g store.Grant) error {
	if err := s.Store.CreateGrant(ctx, g); err != nil {
		return err
	}
	if s.hook != nil {
		s.hook()
	}
	return fmt.Errorf("link cut after the commit: %w", store.ErrUnavailable)
}

// TestAttackGrantUsedBeforeAnswer: an approver approves and remembers, the
// store commits the grant, a request like the approved one is checked
// and allowed on it, taking its last use, and only then is the store's
// answer lost. ApproveAndRemember read the grant back among the grants
// listed, which hold none used up, and said "approved once, not
// remembered"; the trail noted the grant as not performed beside the
// allow that used it. SECURITY.md: none of these outcomes "is reported or
// recorded as not performed while it is in force". A grant is now read
// back by its id where the store can (store.GrantReader), used up or
// not. When nothing used it, it is reported made as before (control).
func TestAttackGrantUsedBeforeAnswer(t *testing.T) {
	for _, tc := range []struct {
		name string
		use  bool
	}{
		{"grant used up before the answer was lost", true},
		{"control: nothing in between", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := &grantUsedBeforeAnswer{Store: memory.New()}
			sink := agenttrust.NewMemorySink(1000)
			f := &fixture{st: st, clock: newTestClock(), audit: sink}
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, grantRulePolicy)), agenttrust.WithClock(f.clock.Now),
				agenttrust.WithRandom(newSeededRandom()), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
			must.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			f.c = c
			_, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}})
			must.NoError(t, err)
			req := bindingBase()
			id := held(t, c, req)
			other := req
			other.Resource = "cust-2"
			var used agenttrust.Decision
			if tc.use {
				st.hook = func() {
					_, _ = c.Check(ctx, req)      // the approved request uses its approval
					used, _ = c.Check(ctx, other) // and the grant's one use
				}
			}
			actx := actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID})
			g, rerr := c.ApproveAndRemember(actx, id, "bob", "", store.Remember{Uses: 1, For: time.Hour, Resources: []string{"cust-*"}})
			if tc.use {
				must.True(t, used.Allowed(), "the grant's use: %+v", used)
			}
			must.NoError(t, rerr, "the grant was stored (and allowed: %v)", used.Allowed())
			if tc.use {
				must.Equal(t, g.ID, used.ApprovalID)
			} else {
				d, err := c.Check(ctx, other)
				must.NoError(t, err)
				must.True(t, d.Allowed(), "the grant %s reported made allows nothing: %+v", g.ID, d)
			}
			for _, r := range operatorRecords(f.records(t)) {
				must.Equal(t, agenttrust.Allow, r.Effect, "an action that took effect is noted as failed: %s %q", r.Tool, r.Reason)
			}
		})
	}
}
