package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackTenantIdleResetsBreaker: the runaway breaker
// (agenttrust.WithBreaker, given with WithClientOptions) counts each
// agent's denials in the tenant's Client. WithBreaker promises to suspend
// an agent whose denials cross the threshold within DenialWindow; a
// server that closes idle tenants lost the count with the Client, so an
// agent alone in its tenant that paused past the idle time between bursts
// of denials stayed under the threshold forever. Each case makes denials
// below the threshold, lets the tenant sit idle for wait with the
// eviction run, and makes one more: within the window the breaker must
// trip and the agent's next check deny.
func TestAttackTenantIdleResetsBreaker(t *testing.T) {
	const idle = 10 * time.Minute
	for _, tc := range []struct {
		window, wait time.Duration
		tripped      bool
	}{
		{time.Hour, 11 * time.Minute, true},
		{time.Hour, 30 * time.Minute, true},
		{24 * time.Hour, 5 * time.Hour, true},
		{time.Hour, 61 * time.Minute, false}, // control: the window has passed
		{time.Hour, 5 * time.Minute, true},   // control: never idle long enough
	} {
		t.Run(fmt.Sprintf("window %v, idle %v", tc.window, tc.wait), func(t *testing.T) {
			e := newEnv(t, WithTenantIdle(idle), WithClientOptions(agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxDenials: 3, DenialWindow: tc.window})))
			e.unpin()
			bot := e.key("acme/bot")
			deny := func() {
				if got := e.check(bot, map[string]any{"tool_name": "docs.delete"}); got["effect"] != "deny" {
					t.Fatalf("docs.delete: %v", got)
				}
			}
			deny()
			deny()
			for step := time.Duration(0); step < tc.wait; step += idle / 4 {
				e.clock.Advance(min(idle/4, tc.wait-step))
				e.srv.evictIdleOnce()
			}
			deny()
			r := e.do("POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
			if tripped := r.status != 200 || r.json(t)["allowed"] != true; tripped != tc.tripped {
				t.Fatalf("third denial %v after two: breaker tripped %v, want %v (tenant reopened: %v): %d %s",
					tc.wait, tripped, tc.tripped, e.srv.metrics.tenantsClosed.Load() > 0, r.status, r.body)
			}
		})
	}
}
