package agenttrust_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackBreakerWindowEdge: the breaker trips on MaxDenials denials
// (or more than MaxCalls calls) within any DenialWindow (CallWindow),
// wherever the run falls. Counted in fixed windows from the agent's
// first check, a run split across a window's end and the next one's
// start (2*(N-1) denials within a fraction of a second) never tripped,
// and an agent that learned the edge could keep going at twice the rate.
func TestAttackBreakerWindowEdge(t *testing.T) {
	const policy = "rules:\n  - {id: no, effect: deny, tools: [bad]}\n  - {id: open, effect: allow}\n"
	for _, tc := range []struct {
		name   string
		cfg    agenttrust.BreakerConfig
		tool   string
		before time.Duration // from the first check to the run
		split  int           // checks before the window's edge; as many after
	}{
		{"denials across the edge", agenttrust.BreakerConfig{MaxDenials: 3, DenialWindow: time.Minute}, "bad", 59900 * time.Millisecond, 2},
		{"denials across the edge, window of 10", agenttrust.BreakerConfig{MaxDenials: 10, DenialWindow: time.Minute}, "bad", 59900 * time.Millisecond, 9},
		{"calls across the edge", agenttrust.BreakerConfig{MaxCalls: 4, CallWindow: time.Second}, "ok", 990 * time.Millisecond, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, policy, agenttrust.WithBreaker(tc.cfg))
			f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "ok"}) // the window starts
			f.clock.Advance(tc.before)
			var d agenttrust.Decision
			for i := range 2 * tc.split {
				if i == tc.split {
					f.clock.Advance(200 * time.Millisecond) // past the edge
				}
				d, _ = f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: tc.tool})
				if d.Rule == "agenttrust.breaker" {
					break
				}
			}
			must.Equal(t, "agenttrust.breaker", d.Rule, fmt.Sprintf("%d checks within 0.2s did not trip the breaker: %+v", 2*tc.split, d))
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "ok"})
			must.NoError(t, err)
			must.Equal(t, "agent suspended", d.Reason)
		})
	}
}
