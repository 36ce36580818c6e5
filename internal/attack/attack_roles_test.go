package attack

import (
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// routeCall is one call of an API route.
type routeCall struct {
	name, method, path string
	body               any
}

// Every route answers 403 to a credential whose roles do not allow it,
// and 401 to one that is revoked, suspended or expired; an agent sees
// and decides nothing of other agents.
func TestAttackRoles(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		n := newNode(t, b.open(t))
		bot, bot2, carol, alice := n.key("acme/bot"), n.key("acme/bot2"), n.key("acme/carol"), n.key("acme/alice")
		apr := n.pending(bot)
		botKey, aliceKey := n.ids["acme/bot"], n.ids["acme/alice"]
		policy := map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"id": "all", "effect": "allow", "tools": []string{"*"}}}}, "format": "json"}

		adminRoutes := []routeCall{
			{"create_key", "POST", "/v1/keys", map[string]any{"agent_id": "mallory", "roles": []string{"admin"}}},
			{"list_keys", "GET", "/v1/keys", nil},
			{"revoke_own_key", "POST", "/v1/keys/" + botKey + "/revoke", nil},
			{"revoke_admin_key", "POST", "/v1/keys/" + aliceKey + "/revoke", nil},
			{"create_tenant_key", "POST", "/v1/tenants/acme/keys", map[string]any{"agent_id": "mallory"}},
			{"revoke_id", "POST", "/v1/revocations", map[string]any{"id": "alice"}},
			{"list_revocations", "GET", "/v1/revocations", nil},
			{"suspend_agent", "POST", "/v1/agents/alice/suspend", nil},
			{"resume_agent", "POST", "/v1/agents/bot/resume", nil},
			{"put_policy", "PUT", "/v1/policy", policy},
			{"validate_policy", "POST", "/v1/policy/validate", policy},
		}
		approverRoutes := []routeCall{
			{"approve", "POST", "/v1/approvals/" + apr + "/approve", nil},
			{"deny", "POST", "/v1/approvals/" + apr + "/deny", nil},
			{"query_audit", "GET", "/v1/audit", nil},
			{"verify_audit", "GET", "/v1/audit/verify", nil},
			{"stream_audit", "GET", "/v1/audit/stream", nil},
			{"get_policy", "GET", "/v1/policy", nil},
			{"metrics", "GET", "/metrics", nil},
		}
		agentRoutes := []routeCall{
			{"check", "POST", "/v1/actions/check", map[string]any{"tool_name": "docs.read", "agent_id": "bot"}},
			{"exchange", "POST", "/v1/tokens", nil},
		}

		// A delegated token acts as an agent, whatever its root key.
		adminTok := n.exchange(alice)
		delegated := n.must(201, "POST", "/v1/tokens/delegate", adminTok, map[string]any{}).object(t)["token"].(string)

		run := func(prefix, cred string, calls []routeCall) {
			for _, rc := range calls {
				t.Run(prefix+"/"+rc.name, func(t *testing.T) {
					wantError(t, n.do(rc.method, rc.path, cred, rc.body), 403, "forbidden")
				})
			}
		}
		run("agent_key", bot, append(append([]routeCall(nil), adminRoutes...), approverRoutes...))
		run("approver_key", carol, append(append([]routeCall(nil), adminRoutes...), agentRoutes...))
		run("delegated_admin_token", delegated, append(append([]routeCall(nil), adminRoutes...), approverRoutes...))

		// Agents among themselves.
		botTok := n.exchange(bot)
		for _, tc := range []struct {
			name, method, path, cred string
			body                     any
			status                   int
			code                     string
		}{
			{"agent_reads_other_agents_approval", "GET", "/v1/approvals/" + apr, bot2, nil, 403, "forbidden"},
			{"agent_lists_other_agents_approvals", "GET", "/v1/approvals?agent_id=bot", bot2, nil, 403, "forbidden"},
			{"agent_checks_as_other_agent", "POST", "/v1/actions/check", bot2, map[string]any{"tool_name": "docs.read", "agent_id": "bot"}, 403, "forbidden"},
			{"agent_inspects_other_agents_token", "POST", "/v1/tokens/inspect", bot2, map[string]any{"token": botTok}, 403, "forbidden"},
			{"agent_delegates_other_agents_token", "POST", "/v1/tokens/delegate", bot2, map[string]any{"token": botTok}, 403, "forbidden"},
			{"agent_exchanges_a_token", "POST", "/v1/tokens", botTok, nil, 400, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, n.do(tc.method, tc.path, tc.cred, tc.body), tc.status, tc.code)
			})
		}
		t.Run("agent_listing_sees_only_its_own", func(t *testing.T) {
			for _, a := range n.must(200, "GET", "/v1/approvals", bot2, nil).object(t)["approvals"].([]any) {
				t.Errorf("bot2 lists %v", a)
			}
		})

		// An agent that is also an approver cannot grant its own request.
		t.Run("agent_approves_its_own_request", func(t *testing.T) {
			selfish := n.key("acme/selfish")
			own := n.pending(selfish)
			wantError(t, n.do("POST", "/v1/approvals/"+own+"/approve", selfish, nil), 403, "approver_not_allowed")
			if a := n.must(200, "GET", "/v1/approvals/"+own, alice, nil).object(t); a["status"] != "pending" {
				t.Errorf("approval after self-approval: %v", a)
			}
		})

		// Credentials that were good and no longer are.
		t.Run("revoked_admin_key", func(t *testing.T) {
			k := n.createKey("acme", "revoked-admin", agenttrust.KeySpec{AgentID: "radmin", Roles: []string{"admin"}})
			tk := n.exchange(k)
			n.must(204, "POST", "/v1/keys/"+n.ids["acme/revoked-admin"]+"/revoke", alice, nil)
			wantError(t, n.do("GET", "/v1/keys", k, nil), 401, "revoked")
			wantError(t, n.do("GET", "/v1/keys", tk, nil), 401, "revoked")
		})
		t.Run("suspended_admin_agent", func(t *testing.T) {
			k := n.createKey("acme", "suspended-admin", agenttrust.KeySpec{AgentID: "sadmin", Roles: []string{"admin"}})
			n.must(204, "POST", "/v1/agents/sadmin/suspend", alice, nil)
			wantError(t, n.do("GET", "/v1/keys", k, nil), 401, "suspended")
			wantError(t, n.do("POST", "/v1/agents/sadmin/resume", k, nil), 401, "suspended")
		})
		t.Run("expired_admin_key", func(t *testing.T) {
			k := n.createKey("acme", "expiring-admin", agenttrust.KeySpec{AgentID: "eadmin", Roles: []string{"admin"}, ExpiresAt: n.clock.Now().Add(time.Hour)})
			tk := n.exchange(k)
			n.clock.Advance(2 * time.Hour)
			defer n.clock.Advance(-2 * time.Hour)
			wantError(t, n.do("GET", "/v1/keys", k, nil), 401, "expired")
			wantError(t, n.do("GET", "/v1/keys", tk, nil), 401, "expired")
		})
		t.Run("revoked_admin_key_blocks_its_delegated_token", func(t *testing.T) {
			k := n.createKey("acme", "parent-admin", agenttrust.KeySpec{AgentID: "padmin", Roles: []string{"admin"}})
			d := n.must(201, "POST", "/v1/tokens/delegate", n.exchange(k), map[string]any{}).object(t)["token"].(string)
			n.must(204, "POST", "/v1/keys/"+n.ids["acme/parent-admin"]+"/revoke", alice, nil)
			wantError(t, n.do("POST", "/v1/actions/check", d, map[string]any{"tool_name": "docs.read"}), 401, "revoked")
		})
	})
}
