package agenttrust_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackClusterRateWindowOverflow: a cluster limit's time per request
// is a time.Duration, 1s over the rate. A rate so slow that this passes
// the largest Duration (about 292 years a request) must be refused as a
// window longer than store.MaxRateWindow, as slower-than-ten-years rates
// that still fit are; converting the overflowing float to a Duration gave
// the smallest int64 on amd64, clamped to 1ns, so the policy was taken
// and the "once in a million years" limit allowed every call. Each case
// either refuses the policy or allows one call of three, a second apart.
func TestAttackClusterRateWindowOverflow(t *testing.T) {
	for _, rate := range []string{
		"1/h",           // control: within the window
		"0.000001/h",    // 114 years a request: refused as too long a window
		"0.0000001/h",   // 1141 years: past the largest Duration
		"0.000000001/m", // 1902 years
		"1e-11/s",       // 3 millennia
		"1e-300/s",      // far past
		"5e-324/h",      // a rate that rounds to zero
	} {
		t.Run(rate, func(t *testing.T) {
			p, err := agenttrust.ParsePolicy([]byte(fmt.Sprintf(`
rules:
  - id: work
    effect: allow
    tools: [work]
limits:
  - id: slow
    tools: [work]
    rate: %q
    scope: cluster
`, rate)), "yaml")
			if err != nil {
				t.Logf("policy refused: %v", err)
				return
			}
			clock := newTestClock()
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithClock(clock.Now))
			if err != nil {
				t.Logf("policy refused: %v", err)
				return
			}
			t.Cleanup(func() { c.Close() })
			allowed := 0
			for range 3 {
				clock.Advance(time.Second)
				d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "a1", Tool: "work"})
				if d.Allowed() {
					allowed++
				} else if d.Rule != "slow" {
					t.Fatalf("denied by %q (%s, %v), want the limit", d.Rule, d.Reason, err)
				}
			}
			if allowed > 1 {
				t.Fatalf("cluster limit %s allowed %d of 3 calls a second apart, burst 1", rate, allowed)
			}
		})
	}
}
