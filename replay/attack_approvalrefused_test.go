package replay_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackReplayApprovalRefusals: when the policy asks for an approval
// the approval phase may still deny, naming the rule: the agent holds
// too many open approvals, or its attributes are too large for one. An
// agent makes as many such records as it likes; replay took each for
// the policy's own deny, and reported every one as a change (deny to
// needs_approval) even for the very policy that made it, burying the
// changes a proposal does make. Under that policy they are unchanged;
// under one that lets the request through they are a change to allow.
func TestAttackReplayApprovalRefusals(t *testing.T) {
	const live = "default: deny\nrules:\n  - {id: ask, effect: needs_approval, tools: [pay]}\n"
	const widened = "default: deny\nrules:\n  - {id: ask, effect: allow, tools: [pay]}\n"
	for name, tc := range map[string]struct {
		reason string
		reqs   func() []agenttrust.Request
	}{
		"too many open approvals": {
			reason: "too many open approvals",
			reqs: func() []agenttrust.Request {
				var out []agenttrust.Request
				for i := range 101 {
					out = append(out, agenttrust.Request{AgentID: "bot-1", Tool: "pay", Attributes: map[string]any{"n": i}})
				}
				return out
			},
		},
		"attributes too large for an approval": {
			reason: "too large for an approval",
			reqs: func() []agenttrust.Request {
				return []agenttrust.Request{{AgentID: "bot-1", Tool: "pay", Attributes: map[string]any{"memo": strings.Repeat("x", 70<<10)}}}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			recs := recordAll(t, live, tc.reqs())
			var refused []agenttrust.AuditRecord
			for _, r := range recs {
				if strings.Contains(r.Reason, tc.reason) {
					refused = append(refused, r)
				}
			}
			must.Len(t, refused, 1, "the approval phase did not refuse")
			must.Equal(t, agenttrust.Deny, refused[0].Effect)

			rep, err := replay.Run(context.Background(), all(refused), replay.Config{Policy: testkit.Policy(t, live, "yaml")})
			must.NoError(t, err)
			expect.EqualValues(t, 0, rep.Changed, "the policy that made it changes it: %+v", rep.Effects)
			expect.EqualValues(t, 1, rep.Same)

			rep, err = replay.Run(context.Background(), all(refused), replay.Config{Policy: testkit.Policy(t, widened, "yaml")})
			must.NoError(t, err)
			expect.Equal(t, []replay.EffectChange{{From: "deny", To: "allow", Count: 1}}, rep.Effects, "a newly allowed request is not reported")
		})
	}
}

// recordAll checks reqs in order under the policy doc and returns the
// records made.
func recordAll(t *testing.T, doc string, reqs []agenttrust.Request) []agenttrust.AuditRecord {
	t.Helper()
	var mu sync.Mutex
	var recs []agenttrust.AuditRecord
	sink := sinkFunc(func(_ context.Context, rs []agenttrust.AuditRecord) error {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, rs...)
		return nil
	})
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(testkit.Policy(t, doc, "yaml")),
		agenttrust.WithClock(testkit.NewClock().Now), agenttrust.WithRandom(testkit.NewRandom()),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
	must.NoError(t, err)
	defer c.Close()
	for _, req := range reqs {
		c.Check(context.Background(), req)
	}
	must.NoError(t, c.SyncAudit(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	return recs
}
