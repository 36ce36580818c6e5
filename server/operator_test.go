package server

import (
	"strings"
	"testing"
)

// Every API route that changes state records, in the tenant's audit
// chain, who did it: the agent and API key id of the caller (the root
// key of a token), beside the decisions; the chain verifies.
func TestOperatorActionsAudited(t *testing.T) {
	e := newEnv(t)
	bot, alice, carol := e.key("acme/bot"), e.key("acme/alice"), e.key("acme/carol")
	aliceTok := e.exchange(alice) // acts with alice's key id
	pay := map[string]any{"tool_name": "payments.charge", "resource": "cust-1", "attributes": map[string]any{"amount": 70}}
	apr1 := e.check(bot, pay)["approval_id"].(string)
	apr2 := e.check(bot, map[string]any{"tool_name": "payments.charge", "resource": "cust-2"})["approval_id"].(string)
	e.must(200, "POST", "/v1/approvals/"+apr1+"/approve", carol, map[string]any{"note": "ok by me"})
	e.must(200, "POST", "/v1/approvals/"+apr2+"/deny", alice, nil)
	e.must(204, "POST", "/v1/agents/bot2/suspend", aliceTok, map[string]any{"reason": "drill"})
	e.must(204, "POST", "/v1/agents/bot2/resume", alice, nil)
	e.must(204, "POST", "/v1/revocations", alice, map[string]any{"id": "sess-9"})
	newKey := e.must(201, "POST", "/v1/keys", alice, map[string]any{"agent_id": "bot3"}).json(t)["key"].(map[string]any)["id"].(string)
	e.must(204, "POST", "/v1/keys/"+newKey+"/revoke", alice, nil)
	e.must(200, "PUT", "/v1/policy", alice, map[string]any{"format": "json", "body": acmePolicy, "expect_version": 1})
	e.sync()

	type op struct{ tool, resource, agent, key string }
	aliceTokID := e.must(200, "POST", "/v1/tokens/inspect", alice, map[string]any{"token": aliceTok}).json(t)["id"].(string)
	want := []op{
		{"agenttrust.exchange", aliceTokID, "alice", e.ids["acme/alice"]},
		{"agenttrust.approve", apr1, "carol", e.ids["acme/carol"]},
		{"agenttrust.deny_approval", apr2, "alice", e.ids["acme/alice"]},
		{"agenttrust.suspend", "bot2", "alice", e.ids["acme/alice"]},
		{"agenttrust.resume", "bot2", "alice", e.ids["acme/alice"]},
		{"agenttrust.revoke", "sess-9", "alice", e.ids["acme/alice"]},
		{"agenttrust.create_key", newKey, "alice", e.ids["acme/alice"]},
		{"agenttrust.revoke", newKey, "alice", e.ids["acme/alice"]},
		{"agenttrust.save_policy", "policy", "alice", e.ids["acme/alice"]},
	}
	recs := e.must(200, "GET", "/v1/audit", alice, nil).json(t)["records"].([]any)
	var got []op
	decisions := 0
	for _, r := range recs {
		m := r.(map[string]any)
		tool, _ := m["tool"].(string)
		if !strings.HasPrefix(tool, "agenttrust.") {
			decisions++
			continue
		}
		if m["effect"] != "allow" {
			t.Errorf("operator record %v: effect %v", tool, m["effect"])
		}
		agent, _ := m["agent_id"].(string)
		key, _ := m["credential_id"].(string)
		got = append(got, op{tool, m["resource"].(string), agent, key})
		if tool == "agenttrust.approve" && (m["reason"] != "ok by me" || m["approval_id"] != apr1) {
			t.Errorf("approve record: %v", m)
		}
	}
	if decisions != 2 {
		t.Errorf("%d decision records, want the 2 checks", decisions)
	}
	if len(got) != len(want) {
		t.Fatalf("operator records %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("operator record %d: %v, want %v", i, got[i], want[i])
		}
	}
	if v := e.must(200, "GET", "/v1/audit/verify", alice, nil).json(t); v["ok"] != true {
		t.Fatalf("verify: %v", v)
	}
}
