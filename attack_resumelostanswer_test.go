package agenttrust_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// lostResume is a store whose Resume loses its answer: after the
// suspension is lifted (a link cut before the reply), or before.
type lostResume struct {
	*memory.Store
	after bool
}

func (s *lostResume) Resume(ctx context.Context, tenant, id string) error {
	if !s.after {
		return fmt.Errorf("link cut before the write: %w", store.ErrUnavailable)
	}
	if err := s.Store.Resume(ctx, tenant, id); err != nil {
		return err
	}
	return fmt.Errorf("link cut after the commit: %w", store.ErrUnavailable)
}

// TestAttackResumeAnswerLost: an operator resumes a suspended agent, the
// store lifts the suspension, and the answer is lost. Resume said it
// failed and the audit trail noted the resume as not performed, yet the
// agent was running again: the trail said the agent stayed stopped while
// its checks were allowed. A resume whose outcome the store did not
// answer is read back: when the id is no longer blocked it is reported
// done. When the suspension still stands, the error stands (control).
func TestAttackResumeAnswerLost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after bool
	}{
		{"answer lost after the commit", true},
		{"control: link cut before the write", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := &lostResume{Store: memory.New(), after: tc.after}
			sink := agenttrust.NewMemorySink(1000)
			f := &fixture{st: st, clock: newTestClock(), audit: sink}
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), agenttrust.WithClock(f.clock.Now),
				agenttrust.WithRandom(newSeededRandom()), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
			must.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			f.c = c
			must.NoError(t, c.Suspend(ctx, "billing-bot", "investigating"))
			rerr := c.Resume(ctx, "billing-bot")
			d, err := c.Check(ctx, charge(10))
			must.NoError(t, err)
			if rerr != nil {
				must.False(t, d.Allowed(), "Resume failed (%v), yet the agent's check is allowed: %+v", rerr, d)
				return
			}
			must.True(t, d.Allowed(), "Resume reported done, yet the agent is denied: %+v", d)
			for _, r := range operatorRecords(f.records(t)) {
				must.Equal(t, agenttrust.Allow, r.Effect, "an action that took effect is noted as failed: %s %q", r.Tool, r.Reason)
			}
		})
	}
}
