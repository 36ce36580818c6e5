package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackTenantIdleResetsApprovalCap: an agent holds at most 100
// open approvals, counted in the tenant's Client. A server that closes
// idle tenants (agenttrust serve: after 10 minutes) lost the count with
// the Client, so an agent that opened its 100 and paused past the idle
// time opened 100 more while the first were still pending, and again at
// each pause: with a day's approval TTL, thousands at once, each a
// stored row, a notification and a line in every approver's queue. Each
// case opens the cap, lets the tenant sit idle for wait with the
// eviction run, and asks once more: while the first approvals are
// pending it must be denied for too many.
func TestAttackTenantIdleResetsApprovalCap(t *testing.T) {
	const idle = 10 * time.Minute
	for _, tc := range []struct {
		ttl, wait time.Duration
		refused   bool
	}{
		{15 * time.Minute, 11 * time.Minute, true},
		{15 * time.Minute, 14 * time.Minute, true},
		{24 * time.Hour, 5 * time.Hour, true},
		{15 * time.Minute, 16 * time.Minute, false}, // control: the first have lapsed
		{15 * time.Minute, 5 * time.Minute, true},   // control: never idle long enough
	} {
		t.Run(fmt.Sprintf("ttl %v, idle %v", tc.ttl, tc.wait), func(t *testing.T) {
			e := newEnv(t, WithTenantIdle(idle), WithClientOptions(agenttrust.WithApprovalTTL(tc.ttl, 5*time.Minute)))
			e.unpin()
			bot := e.key("acme/bot")
			ask := func(i int) map[string]any {
				return e.check(bot, map[string]any{"tool_name": "payments.charge", "resource": fmt.Sprintf("invoice:%d", i)})
			}
			for i := range 100 {
				if got := ask(i); got["effect"] != "needs_approval" {
					t.Fatalf("approval %d: %v", i, got)
				}
			}
			if got := ask(100); got["effect"] != "deny" {
				t.Fatalf("the 101st approval: %v", got)
			}
			for step := time.Duration(0); step < tc.wait; step += idle / 4 {
				e.clock.Advance(min(idle/4, tc.wait-step))
				e.srv.evictIdleOnce()
			}
			got := ask(101)
			if refused := got["effect"] == "deny" && got["reason"] == "too many open approvals for this agent"; refused != tc.refused {
				t.Fatalf("an approval asked %v after holding 100: %v, refused %v, want %v (tenant reopened: %v)",
					tc.wait, got, refused, tc.refused, e.srv.metrics.tenantsClosed.Load() > 0)
			}
		})
	}
}
