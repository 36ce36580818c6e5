package server

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestAttackTenantIdleResetsRateLimits: node-scope rate limits live in
// the tenant's Client. A server that closes idle tenants (agenttrust
// serve does after 10 minutes) must not close one whose buckets still
// hold what its agents spent: reopened, every bucket would start full,
// so an agent alone in its tenant that waits out the idle time earns a
// full burst each time, whatever the limit's rate ("1/h" allowing a call
// every ten minutes). Each case spends the burst, lets the tenant sit
// idle for wait with the eviction run, and calls again: at most what the
// bucket refilled in wait may be allowed.
func TestAttackTenantIdleResetsRateLimits(t *testing.T) {
	const idle = 10 * time.Minute
	for _, tc := range []struct {
		rate  string
		burst int
		wait  time.Duration
		want  int // allowed of burst calls after wait
	}{
		{"1/h", 1, 11 * time.Minute, 0},
		{"1/h", 1, 30 * time.Minute, 0},
		{"1/h", 1, 61 * time.Minute, 1}, // control: refilled
		{"6/h", 6, 11 * time.Minute, 1},
		{"60/h", 60, 20 * time.Minute, 20},
		{"60/m", 60, 11 * time.Minute, 60}, // control: refilled
	} {
		t.Run(fmt.Sprintf("%s burst %d after %v", tc.rate, tc.burst, tc.wait), func(t *testing.T) {
			e := newEnv(t, WithTenantIdle(idle))
			ctx := context.Background()
			c, err := e.srv.Client(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			body := fmt.Sprintf(`{"rules":[{"id":"read","effect":"allow","tools":["docs.read"]}],
"limits":[{"id":"slow","tools":["docs.read"],"rate":%q,"burst":%d}]}`, tc.rate, tc.burst)
			if _, err := c.SavePolicy(ctx, []byte(body), "json", 1); err != nil {
				t.Fatal(err)
			}
			e.unpin()
			bot := e.key("acme/bot")
			call := func() bool {
				return e.check(bot, map[string]any{"tool_name": "docs.read"})["allowed"] == true
			}
			for i := range tc.burst {
				if !call() {
					t.Fatalf("call %d of the first burst denied", i)
				}
			}
			if call() {
				t.Fatal("a call past the burst allowed")
			}
			// The tenant sits idle; the eviction runs as the server's
			// ticker would, every quarter of the idle time.
			for step := time.Duration(0); step < tc.wait; step += idle / 4 {
				e.clock.Advance(min(idle/4, tc.wait-step))
				e.srv.evictIdleOnce()
			}
			got := 0
			for range tc.burst {
				if call() {
					got++
				}
			}
			if got > tc.want {
				t.Fatalf("%d of %d calls allowed %v after the burst under %s (refilled: %d); tenant reopened: %v",
					got, tc.burst, tc.wait, tc.rate, tc.want, e.srv.metrics.tenantsClosed.Load() > 0)
			}
		})
	}
}
