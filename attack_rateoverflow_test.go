package agenttrust_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackRateLimitOverflowSecondBurst: an agent that fills the node
// rate-limit table with tool names of its own, so that its spent (or
// idle, swept) pair lands in the shared overflow bucket, must not then
// get a fresh, full bucket of its own once the junk has refilled and is
// swept: that is a second burst on top of the one it took from the
// overflow, more than burst plus rate times the time elapsed.
func TestAttackRateLimitOverflowSecondBurst(t *testing.T) {
	for _, tc := range []struct {
		rate  string
		burst int
		wait  time.Duration // long enough for a junk bucket to refill one token
		bound int           // burst + rate*wait, rounded up
	}{
		{"10/h", 10, 6 * time.Minute, 11},
		{"60/m", 30, time.Second, 31},
	} {
		t.Run(fmt.Sprintf("%s burst %d", tc.rate, tc.burst), func(t *testing.T) {
			f := newFixture(t, openPolicy+fmt.Sprintf("limits:\n  - {id: slow, agents: [bot], tools: [\"*\"], rate: %s, burst: %d}\n", tc.rate, tc.burst),
				agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}))
			ctx := context.Background()
			charge := agenttrust.Request{AgentID: "bot", Tool: "payments.charge"}
			if d, err := f.c.Check(ctx, charge); err != nil || !d.Allowed() {
				t.Fatalf("first call: %v %v", d.Effect, err)
			}
			f.clock.Advance(time.Hour) // its bucket is full again, and sweepable
			// Fill the table with pairs of its own, each drawing a token.
			for n := range 1 << 14 {
				f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: fmt.Sprintf("junk.%d", n)})
			}
			allowed := 0
			spend := func() {
				for range tc.burst + 5 {
					if d, _ := f.c.Check(ctx, charge); d.Allowed() {
						allowed++
					}
				}
			}
			spend() // from the overflow bucket
			f.clock.Advance(tc.wait)
			spend() // the junk has refilled and is swept: room for the pair again
			if allowed > tc.bound {
				t.Fatalf("%d charges allowed within %v of a full bucket; the limit allows at most %d", allowed, tc.wait, tc.bound)
			}
		})
	}
}
