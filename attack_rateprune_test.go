package agenttrust_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackClusterLimitPrunedBySkewedNode: nodes sharing a cluster limit
// may disagree on the time by d, which lets through at most d over the
// limit's interval more. A node whose clock runs ahead prunes, once a
// minute, the rate state it reads as long past: on its clock, the state
// another node just wrote for "once an hour" is. Each prune handed the
// agent a fresh burst on the other node, one more call every minute,
// however long it went on. Node B (the true time) serves the agent; node
// A, ahead by skew, serves other agents, and so prunes. Over 30 minutes
// the agent may get its burst and at most skew/interval more.
func TestAttackClusterLimitPrunedBySkewedNode(t *testing.T) {
	const policy = `
rules:
  - id: work
    effect: allow
    tools: [work]
limits:
  - id: shared
    tools: [work]
    rate: %s
    scope: cluster
`
	for _, tc := range []struct {
		rate     string
		interval time.Duration
		skew     time.Duration
	}{
		{"1/h", time.Hour, 0},                // control
		{"1/h", time.Hour, 30 * time.Second}, // within a minute
		{"1/h", time.Hour, 2 * time.Hour},
		{"1/h", time.Hour, 10 * time.Hour},
		{"6/h", 10 * time.Minute, 30 * time.Minute},
		{"6/h", 10 * time.Minute, time.Hour},
	} {
		t.Run(fmt.Sprintf("%s skew %v", tc.rate, tc.skew), func(t *testing.T) {
			st := memory.New()
			clock := newTestClock()
			p := mustPolicy(t, fmt.Sprintf(policy, tc.rate))
			b, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithClock(clock.Now),
				agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-b"}))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			a, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithClock(func() time.Time { return clock.Now().Add(tc.skew) }),
				agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-a"}))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			ctx := context.Background()
			const minutes = 30
			allowed := 0
			for i := range minutes {
				if d, _ := a.Check(ctx, agenttrust.Request{AgentID: fmt.Sprintf("other-%d", i), Tool: "work"}); !d.Allowed() {
					t.Fatalf("minute %d: another agent on node A denied: %+v", i, d)
				}
				if d, _ := b.Check(ctx, agenttrust.Request{AgentID: "agent", Tool: "work"}); d.Allowed() {
					allowed++
				}
				clock.Advance(time.Minute + time.Second)
			}
			// The burst (1), what refills in the time (one interval a
			// call), and what the skew lets through.
			bound := 1 + int((minutes*(time.Minute+time.Second))/tc.interval) + int(tc.skew/tc.interval)
			if allowed > bound {
				t.Fatalf("%d calls allowed in %d minutes under %s with node A %v ahead, at most %d", allowed, minutes, tc.rate, tc.skew, bound)
			}
		})
	}
}
