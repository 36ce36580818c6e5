package server

import (
	"fmt"
	"testing"
	"time"
)

// TestAttackGrantListingShowsDeadGrants: GET /v1/grants is how an
// operator sees what standing approvals remain (and remote.Client.Grants
// reads it). It listed every grant the store still counted uses for,
// whatever a check would make of it now: grants of a rule removed,
// changed or lowered, grants older than the rule's remember_for, grants
// of a suspended approver or a revoked approver key all read as live,
// with the uses the store counted rather than those a check would allow.
// Each case wants the listing to agree with the check that follows: the
// grant is listed with the uses a check would allow now, none when a
// request it covers is asked again.
func TestAttackGrantListingShowsDeadGrants(t *testing.T) {
	const rule = `{"rules":[{"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"%s","remember_uses":%d,"remember_for":"%s"}]}`
	policy := func(reason string, uses int, forDur string) string {
		return fmt.Sprintf(rule, reason, uses, forDur)
	}
	for _, tc := range []struct {
		name   string
		change func(e *env)
		live   bool
	}{
		{name: "nothing changed (control)", live: true},
		{name: "remember_uses lowered below the grant's", change: func(e *env) {
			e.must(200, "PUT", "/v1/policy", e.key("acme/root"), map[string]any{"format": "json", "body": policy("payments need a human", 3, "1h"), "expect_version": 1})
		}},
		{name: "remember_uses raised (control)", live: true, change: func(e *env) {
			e.must(200, "PUT", "/v1/policy", e.key("acme/root"), map[string]any{"format": "json", "body": policy("payments need a human", 50, "1h"), "expect_version": 1})
		}},
		{name: "rule no longer remembers", change: func(e *env) {
			e.must(200, "PUT", "/v1/policy", e.key("acme/root"), map[string]any{"format": "json", "body": `{"rules":[{"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human"}]}`, "expect_version": 1})
		}},
		{name: "rule's reason changed", change: func(e *env) {
			e.must(200, "PUT", "/v1/policy", e.key("acme/root"), map[string]any{"format": "json", "body": policy("all payments are reviewed", 5, "1h"), "expect_version": 1})
		}},
		{name: "remember_for shortened and passed", change: func(e *env) {
			e.must(200, "PUT", "/v1/policy", e.key("acme/root"), map[string]any{"format": "json", "body": policy("payments need a human", 5, "1m"), "expect_version": 1})
			e.clock.Advance(2 * time.Minute)
		}},
		{name: "approver suspended", change: func(e *env) {
			e.must(204, "POST", "/v1/agents/carol/suspend", e.key("acme/root"), map[string]any{"reason": "rogue"})
		}},
		{name: "approver's key revoked", change: func(e *env) {
			e.must(204, "POST", "/v1/keys/"+e.ids["acme/carol"]+"/revoke", e.key("acme/root"), nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newGrantEnv(t)
			d := e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": "acct/1"})
			body := map[string]any{"remember": map[string]any{"uses": 5, "valid_for": "30m", "resources": []string{"acct/*"}}}
			e.must(200, "POST", "/v1/approvals/"+d["approval_id"].(string)+"/approve", e.key("acme/carol"), body)
			e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": "acct/1"}) // the approval itself
			for _, r := range []string{"acct/2", "acct/3"} {                                                 // two uses of the grant
				if d := e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": r}); d["effect"] != "allow" {
					t.Fatalf("use of the grant on %s: %v", r, d)
				}
			}
			if tc.change != nil {
				tc.change(e)
			}
			list := e.must(200, "GET", "/v1/grants", e.key("acme/root"), nil).json(t)["grants"].([]any)
			d = e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": "acct/4"})
			allowed := d["effect"] == "allow"
			if allowed != tc.live {
				t.Errorf("check under the grant: %v, want allowed %v", d, tc.live)
			}
			// Listed still (it can be revoked, and may allow again after a
			// later change), with the uses a check would allow now.
			if len(list) != 1 {
				t.Fatalf("GET /v1/grants lists %v, want the one grant", list)
			}
			want := map[bool]float64{true: 3, false: 0}[tc.live]
			if got := list[0].(map[string]any)["uses_left"]; got != want {
				t.Errorf("GET /v1/grants: uses_left %v, want %v (a check now allowed: %v): %v", got, want, allowed, list[0])
			}
		})
	}
}
