package agenttrust_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// usedBeforeAnswer is a store whose DecideApproval commits, then runs
// hook (the waiting request checked again, using the approval) and then
// loses its answer, as a link cut on the way back would.
type usedBeforeAnswer struct {
	*memory.Store
	hook func()
}

func (s *usedBeforeAnswer) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	if _, err := s.Store.DecideApproval(ctx, tenant, id, d); err != nil {
		return store.Approval{}, err
	}
	if s.hook != nil {
		s.hook()
	}
	return store.Approval{}, fmt.Errorf("link cut after the commit: %w", store.ErrUnavailable)
}

// TestAttackApprovalUsedBeforeAnswer: an approver approves, the store
// commits, the waiting request is checked again and allowed on the
// approval, and only then is the store's answer lost. Approve read the
// approval back, found it consumed rather than approved, and said the
// approval failed; the audit trail noted it as not performed, beside
// the allow that used it: the record said no while the request
// proceeded. A consumed approval holding this decision is one this
// decision took effect in. When nothing used it, the outcome read back
// is reported as before (control).
func TestAttackApprovalUsedBeforeAnswer(t *testing.T) {
	for _, tc := range []struct {
		name string
		use  bool
	}{
		{"request allowed before the answer was lost", true},
		{"nothing in between (control)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &usedBeforeAnswer{Store: memory.New()}
			f := &fixture{st: st, clock: newTestClock(), audit: agenttrust.NewMemorySink(1000)}
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), agenttrust.WithClock(f.clock.Now),
				agenttrust.WithRandom(newSeededRandom()), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{f.audit}}))
			must.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			f.c = c
			ctx := context.Background()
			d, err := c.Check(ctx, charge(60))
			must.NoError(t, err)
			must.Equal(t, agenttrust.NeedsApproval, d.Effect)
			var used agenttrust.Decision
			if tc.use {
				st.hook = func() { used, _ = c.Check(ctx, charge(60)) }
			}
			derr := c.Approve(ctx, d.ApprovalID, "carol", "ok")
			must.NoError(t, derr, "the approval took effect (allowed: %v)", used.Allowed())
			if tc.use {
				must.True(t, used.Allowed(), "the request checked again: %+v", used)
				must.Equal(t, d.ApprovalID, used.ApprovalID)
			}
			for _, r := range operatorRecords(f.records(t)) {
				must.Equal(t, agenttrust.Allow, r.Effect, "a decision that took effect is noted as failed: %s %q", r.Tool, r.Reason)
			}
		})
	}
}
