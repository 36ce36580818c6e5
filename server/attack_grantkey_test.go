package server

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackGrantOutlivesApproverKeyHTTP: an approver remembers an
// approval with its API key; an admin revokes that key (it leaked). The
// grant it made named only the approver's agent, so the agent kept being
// allowed under a key the operator had stopped. Revoking the agent's own key, or another
// approver's, changes nothing (control).
func TestAttackGrantOutlivesApproverKeyHTTP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		revoke  string // whose key an admin revokes
		allowed bool
	}{
		{name: "the approving key revoked", revoke: "acme/carol"},
		{name: "another approver's key revoked (control)", revoke: "acme/dave", allowed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newGrantEnv(t)
			d := e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": "acct/1"})
			if d["effect"] != "needs_approval" {
				t.Fatalf("effect %v, want needs_approval", d["effect"])
			}
			body := map[string]any{"remember": map[string]any{"uses": 5, "valid_for": "30m", "resources": []string{"acct/*"}}}
			e.must(200, "POST", "/v1/approvals/"+d["approval_id"].(string)+"/approve", e.key("acme/carol"), body)
			e.must(204, "POST", "/v1/keys/"+e.ids[tc.revoke]+"/revoke", e.key("acme/root"), nil)

			d = e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": "acct/2"})
			if want := map[bool]string{true: "allow", false: "needs_approval"}[tc.allowed]; d["effect"] != want {
				t.Errorf("check under the grant: effect %v, want %v: %v", d["effect"], want, d)
			}
		})
	}
}

// newGrantEnv is a server whose tenant acme holds approvals of
// payments.charge for remembering (5 uses, 1h), with keys for an agent
// (bot), two approvers (carol, dave) and an admin (root).
func newGrantEnv(t *testing.T) *env {
	t.Helper()
	mem := memory.New()
	e := &env{t: t, st: mem, clock: newTestClock(), keys: map[string]string{}, ids: map[string]string{}, rand: testkit.NewRandom()}
	srv, err := New(mem, WithNodeName("n1"), WithSystemTenant("ops"), WithClock(e.clock.Now), WithAuditKey(testAuditKey), WithClientOptions(testkit.Keys()))
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.ts = srv, httptest.NewServer(srv)
	t.Cleanup(func() { e.ts.Close(); _ = srv.Close() })
	ctx := context.Background()
	e.seedKey(ctx, "acme", "bot", []string{"agent"})
	e.seedKey(ctx, "acme", "carol", []string{"approver"})
	e.seedKey(ctx, "acme", "dave", []string{"approver"})
	e.seedKey(ctx, "acme", "root", []string{"admin"})
	policy := `{"rules":[{"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human","remember_uses":5,"remember_for":"1h"}]}`
	if _, err := mem.PutPolicy(ctx, store.PolicyDoc{Tenant: "acme", Format: "json", Body: []byte(policy), UpdatedAt: e.clock.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	return e
}
