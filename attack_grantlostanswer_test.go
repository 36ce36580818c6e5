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

// lostGrant is a store whose CreateGrant loses its answer: after the
// grant is committed (a link cut before the reply), or before it is
// written.
type lostGrant struct {
	*memory.Store
	after bool
}

func (s *lostGrant) CreateGrant(ctx context.Context, g store.Grant) error {
	if !s.after {
		return fmt.Errorf("link cut before the write: %w", store.ErrUnavailable)
	}
	if err := s.Store.CreateGrant(ctx, g); err != nil {
		return err
	}
	return fmt.Errorf("link cut after the commit: %w", store.ErrUnavailable)
}

// TestAttackGrantAnswerLost: an approver approves and remembers, the
// store commits the grant, and the answer is lost. ApproveAndRemember
// said "approved once, not remembered" and the trail noted the grant as
// not performed, yet the grant was stored and allowed its uses: a
// standing permission the approver was told did not exist, and so had no
// reason to revoke, while the trail denied it. A grant whose store did
// not answer is read back: when it is stored, it is reported made. When
// it is not, the error stands and nothing is remembered (control).
func TestAttackGrantAnswerLost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after bool
	}{
		{"answer lost after the commit", true},
		{"control: link cut before the write", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := &lostGrant{Store: memory.New(), after: tc.after}
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
			actx := actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID})
			g, rerr := c.ApproveAndRemember(actx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			d, err := c.Check(ctx, req)
			must.NoError(t, err)
			must.True(t, d.Allowed(), "the approved request itself: %+v", d)
			req.Resource = "cust-2"
			d, err = c.Check(ctx, req)
			must.NoError(t, err)
			if rerr != nil {
				must.False(t, d.Allowed(), "ApproveAndRemember said not remembered (%v), yet a grant allows: %+v", rerr, d)
				return
			}
			must.True(t, d.Allowed(), "the grant %s reported made allows nothing: %+v", g.ID, d)
			must.Equal(t, g.ID, d.ApprovalID)
			for _, r := range operatorRecords(f.records(t)) {
				must.Equal(t, agenttrust.Allow, r.Effect, "an action that took effect is noted as failed: %s %q", r.Tool, r.Reason)
			}
		})
	}
}
