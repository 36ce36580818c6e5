package agenttrust_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// lostPolicySave is a store whose PutPolicy loses its answer: after the
// document is committed (a link cut before the reply), or before it is
// written.
type lostPolicySave struct {
	*memory.Store
	after bool
	armed bool
}

func (s *lostPolicySave) PutPolicy(ctx context.Context, doc store.PolicyDoc, expectVersion int64) (store.PolicyDoc, error) {
	if !s.armed {
		return s.Store.PutPolicy(ctx, doc, expectVersion)
	}
	if !s.after {
		return store.PolicyDoc{}, fmt.Errorf("link cut before the write: %w", store.ErrUnavailable)
	}
	if _, err := s.Store.PutPolicy(ctx, doc, expectVersion); err != nil {
		return store.PolicyDoc{}, err
	}
	return store.PolicyDoc{}, fmt.Errorf("link cut after the commit: %w", store.ErrUnavailable)
}

// TestAttackPolicySaveAnswerLost: an admin saves a policy, the store
// commits it, and the answer is lost. SavePolicy said it failed ("on any
// error nothing changes") and the audit trail noted the save as not
// performed, yet the document was the tenant's stored policy: the
// policy follower of this client and of every other one made it live
// within a second, a loosening nobody was told of and the trail denied.
// A save whose outcome the store did not answer is read back: when the
// store holds this very document, the save is reported done and made
// live at once; an error means it was not stored (control).
func TestAttackPolicySaveAnswerLost(t *testing.T) {
	const denyCharges = "rules:\n  - {id: everything, effect: allow}\n  - {id: no-charges, effect: deny, tools: [payments.charge]}\n"
	const allowAll = "rules:\n  - {id: everything, effect: allow}\n"
	for _, tc := range []struct {
		name  string
		after bool
	}{
		{"answer lost after the commit", true},
		{"control: link cut before the write", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := &lostPolicySave{Store: memory.New(), after: tc.after}
			sink := agenttrust.NewMemorySink(1000)
			f := &fixture{st: st, clock: newTestClock(), audit: sink}
			c, err := agenttrust.New(st, agenttrust.WithClock(f.clock.Now), agenttrust.WithRandom(newSeededRandom()),
				agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
			must.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			f.c = c
			v, err := c.SavePolicy(ctx, []byte(denyCharges), "yaml", 0)
			must.NoError(t, err)
			st.armed = true
			// The loosening: charges allowed again.
			v2, serr := c.SavePolicy(ctx, []byte(allowAll), "yaml", v)
			doc, err := st.Store.Policy(ctx, "default")
			must.NoError(t, err)
			stored := string(doc.Body) == allowAll
			must.Equal(t, tc.after, stored, "the store holds the save")
			d, err := c.Check(ctx, charge(1))
			if serr != nil {
				must.False(t, stored, "SavePolicy failed (%v), yet the store holds the document, version %d", serr, doc.Version)
				must.NoError(t, err)
				must.Equal(t, "no-charges", d.Rule, "the save failed, yet the check is decided by it")
				return
			}
			must.Equal(t, doc.Version, v2)
			must.True(t, d.Allowed(), "the save was reported done, yet the check is decided by the old policy: %+v %v", d, err)
			for _, r := range operatorRecords(f.records(t)) {
				must.Equal(t, agenttrust.Allow, r.Effect, "a save that took effect is noted as failed: %s %q", r.Tool, r.Reason)
			}
		})
	}
}
