package server

import (
	"testing"
	"time"
)

// TestAttackGrantsListOutlivesApproverKeyHTTP: an approver remembers an
// approval for 30 minutes with a key that ends in 10. GET /v1/grants
// reported the grant's own expiry, though a check stops using it when
// the key ends. A key without an end leaves the grant's own expiry
// (control).
func TestAttackGrantsListOutlivesApproverKeyHTTP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keyEnd bool
	}{
		{name: "approver key ends before the grant", keyEnd: true},
		{name: "approver key without an end (control)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newGrantEnv(t)
			now := e.clock.Now().UTC()
			body := map[string]any{"agent_id": "erin", "roles": []string{"approver"}}
			if tc.keyEnd {
				body["expires_at"] = now.Add(10 * time.Minute)
			}
			secret := e.must(201, "POST", "/v1/keys", e.key("acme/root"), body).json(t)["secret"].(string)
			d := e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": "acct/1"})
			remember := map[string]any{"remember": map[string]any{"uses": 5, "valid_for": "30m", "resources": []string{"acct/*"}}}
			e.must(200, "POST", "/v1/approvals/"+d["approval_id"].(string)+"/approve", secret, remember)
			list := e.must(200, "GET", "/v1/grants", e.key("acme/root"), nil).json(t)["grants"].([]any)
			if len(list) != 1 {
				t.Fatalf("grants: %v", list)
			}
			want := now.Add(30 * time.Minute)
			if tc.keyEnd {
				want = now.Add(10 * time.Minute)
			}
			got, err := time.Parse(time.RFC3339Nano, list[0].(map[string]any)["expires_at"].(string))
			if err != nil || !got.Equal(want) {
				t.Errorf("GET /v1/grants: expires_at %v (%v), want %v, when a check stops using it", got, err, want)
			}
		})
	}
}
