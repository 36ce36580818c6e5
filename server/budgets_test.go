package server

import (
	"testing"
)

// Budgets through the API: a key created with a budget caveat, a
// delegation carving from it, checks spending it, GET /v1/budgets/{id}
// reading what remains, and a carve too large refused.
func TestBudgetsAPI(t *testing.T) {
	e := newEnv(t)
	admin := e.key("acme/alice")
	created := e.must(201, "POST", "/v1/keys", admin, map[string]any{"agent_id": "spender", "caveats": []string{"budget calls <= 5"}}).json(t)
	secret := created["secret"].(string)
	keyID := created["key"].(map[string]any)["id"].(string)
	tok := e.exchange(secret)
	del := e.must(201, "POST", "/v1/tokens/delegate", secret, map[string]any{"token": tok, "caveats": []string{"budget calls <= 2"}}).json(t)
	hopID := del["hop"].(map[string]any)["id"].(string)
	for range 2 {
		if d := e.check(del["token"].(string), map[string]any{"tool_name": "docs.read"}); d["allowed"] != true {
			t.Fatalf("check: %v", d)
		}
	}
	d := e.check(del["token"].(string), map[string]any{"tool_name": "docs.read"})
	if d["allowed"] != false || d["rule_id"] != "budget:"+hopID+"/calls" {
		t.Errorf("third check through a budget of 2: %v", d)
	}
	got := e.must(200, "GET", "/v1/budgets/"+keyID, admin, nil).json(t)
	bs := got["budgets"].([]any)
	if got["node"] != keyID || len(bs) != 1 {
		t.Fatalf("budgets of the key: %v", got)
	}
	b := bs[0].(map[string]any)
	if b["name"] != "calls" || b["limit"] != 5.0 || b["spent"] != 2.0 || b["carved"] != 2.0 || b["remaining"] != 3.0 || b["scale"] != 1.0 {
		t.Errorf("key budget %v: want limit 5, spent 2, carved 2, remaining 3", b)
	}
	r := e.do("POST", "/v1/tokens/delegate", secret, map[string]any{"token": tok, "caveats": []string{"budget calls <= 4"}})
	if r.status != 400 || r.code(t) != "unauthorized" {
		t.Errorf("a delegation carving 4 of 3: status %d: %s", r.status, r.body)
	}
	if got := e.must(200, "GET", "/v1/budgets/hop_unknown", admin, nil).json(t); len(got["budgets"].([]any)) != 0 {
		t.Errorf("budgets of an unknown node: %v", got)
	}
	if r := e.do("GET", "/v1/budgets/"+keyID, secret, nil); r.status != 403 {
		t.Errorf("an agent reading budgets: status %d", r.status)
	}
	if r := e.do("GET", "/v1/budgets/"+keyID, e.key("globex/gadmin"), nil); r.status != 200 || len(r.json(t)["budgets"].([]any)) != 0 {
		t.Errorf("another tenant's admin sees the budget: %d %s", r.status, r.body)
	}
}
