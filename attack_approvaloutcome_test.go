package agenttrust_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// lostDecision is a store whose DecideApproval loses its answer: after
// the decision is committed (a link cut before the reply, the caller's
// context ended as the reply was on its way) or before it is written.
type lostDecision struct {
	*memory.Store
	after  bool               // commit first, then fail
	cancel context.CancelFunc // when set, the caller's context ends instead
}

func (s *lostDecision) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	if !s.after {
		return store.Approval{}, fmt.Errorf("link cut before the write: %w", store.ErrUnavailable)
	}
	if _, err := s.Store.DecideApproval(ctx, tenant, id, d); err != nil {
		return store.Approval{}, err
	}
	if s.cancel != nil {
		s.cancel()
		return store.Approval{}, ctx.Err()
	}
	return store.Approval{}, fmt.Errorf("link cut after the commit: %w", store.ErrUnavailable)
}

// TestAttackApprovalDecidedDespiteError: an approver approves, the store
// commits, and the answer is lost. Approve said it failed and the audit
// trail noted the approval as not applied (a Deny after the Allow), yet
// the approval stood and the agent's request went through: the record
// said no while the request proceeded. A decision whose outcome the
// store did not answer is read back: an error means it was not applied.
func TestAttackApprovalDecidedDespiteError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		deny   bool
		after  bool
		cancel bool
	}{
		{name: "approve, answer lost after the commit", after: true},
		{name: "approve, approver's context ended after the commit", after: true, cancel: true},
		{name: "deny, answer lost after the commit", deny: true, after: true},
		{name: "control: approve, link cut before the write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &lostDecision{Store: memory.New(), after: tc.after}
			f := &fixture{st: st, clock: newTestClock(), audit: agenttrust.NewMemorySink(1000)}
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), agenttrust.WithClock(f.clock.Now),
				agenttrust.WithRandom(newSeededRandom()), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{f.audit}}))
			if err != nil {
				t.Fatalf("%v", err)
			}
			t.Cleanup(func() { c.Close() })
			f.c = c

			d, err := c.Check(context.Background(), charge(60))
			if err != nil {
				t.Fatalf("%v", err)
			}
			if d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("got %v, want %v", d.Effect, agenttrust.NeedsApproval)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				st.cancel = cancel
			}
			decide := c.Approve
			if tc.deny {
				decide = c.DenyApproval
			}
			derr := decide(ctx, d.ApprovalID, "carol", "ok")

			a, err := c.Approval(context.Background(), d.ApprovalID)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if derr != nil {
				if a.Status != agenttrust.ApprovalPending {
					t.Errorf("got %v, want %v; the decision failed (%v), but the approval is %s", a.Status, agenttrust.ApprovalPending, derr, a.Status)
				}
				again, err := c.Check(context.Background(), charge(60))
				if again.Allowed() {
					t.Errorf("the approval failed (%v), yet the request is allowed (%v)", derr, err)
				}
				return
			}
			want := agenttrust.ApprovalApproved
			if tc.deny {
				want = agenttrust.ApprovalDenied
			}
			if a.Status != want {
				t.Errorf("got %v, want %v", a.Status, want)
			}
			for _, r := range operatorRecords(f.records(t)) {
				if r.Effect != agenttrust.Allow {
					t.Errorf("got %v, want %v; a decision that took effect is noted as failed: %s %q", r.Effect, agenttrust.Allow, r.Tool, r.Reason)
				}
			}
		})
	}
}
