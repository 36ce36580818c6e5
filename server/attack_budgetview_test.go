package server

import (
	"testing"
	"time"
)

// A budget that refuses every spend, its node revoked (released) or
// expired, must not be reported to an operator as having any left: the
// API and the CLI print "remaining" as what may still be spent.
func TestAttackBudgetsReportDead(t *testing.T) {
	e := newEnv(t)
	admin := e.key("acme/alice")
	created := e.must(201, "POST", "/v1/keys", admin, map[string]any{"agent_id": "spender", "caveats": []string{"budget calls <= 5"}}).json(t)
	secret := created["secret"].(string)
	tok := e.exchange(secret)
	hop := func(ttl int64, limit string) (string, string) {
		del := e.must(201, "POST", "/v1/tokens/delegate", secret, map[string]any{"token": tok, "ttl_seconds": ttl, "caveats": []string{"budget calls <= " + limit}}).json(t)
		return del["token"].(string), del["hop"].(map[string]any)["id"].(string)
	}
	_, revoked := hop(0, "1")
	_, expired := hop(60, "2")
	e.must(204, "POST", "/v1/revocations", admin, map[string]any{"id": revoked})
	e.clock.Advance(2 * time.Minute)
	for name, id := range map[string]string{"revoked": revoked, "expired": expired} {
		bs := e.must(200, "GET", "/v1/budgets/"+id, admin, nil).json(t)["budgets"].([]any)
		if len(bs) != 1 {
			t.Fatalf("%s hop: budgets %v", name, bs)
		}
		if b := bs[0].(map[string]any); b["remaining"] != 0.0 {
			t.Errorf("%s hop: reported remaining %v, which no spend can use: %v", name, b["remaining"], b)
		}
	}
}
