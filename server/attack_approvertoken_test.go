package server

import (
	"context"
	"testing"
)

// TestAttackApprovalOutlivesApproverTokenHTTP: an approver exchanges its
// API key for a token or a JWT and approves (once, or remembering the
// approval) with it. The token leaks and an admin revokes its id (POST
// /v1/revocations, `agenttrust revoke`): what that token approved must
// allow nothing more. The approval and the grant named only the
// approver's agent and root key, so they kept allowing for the grant's
// lifetime under a credential the operator had stopped. Revoking another
// approver's token changes nothing (control).
func TestAttackApprovalOutlivesApproverTokenHTTP(t *testing.T) {
	for _, format := range []string{"macaroon", "jwt"} {
		for _, remember := range []bool{false, true} {
			for _, tc := range []struct {
				name    string
				revoke  string // whose token an admin revokes
				allowed bool
			}{
				{name: "the approving token revoked", revoke: "acme/erin"},
				{name: "another approver's token revoked (control)", revoke: "acme/frank", allowed: true},
			} {
				name := format + "/" + map[bool]string{false: "once", true: "remembered"}[remember] + "/" + tc.name
				t.Run(name, func(t *testing.T) {
					e := newGrantEnv(t)
					// Approvers that may also exchange their keys.
					e.seedKey(context.Background(), "acme", "erin", []string{"agent", "approver"})
					e.seedKey(context.Background(), "acme", "frank", []string{"agent", "approver"})
					toks := map[string]map[string]any{}
					for _, who := range []string{"acme/erin", "acme/frank"} {
						body := map[string]any{"format": format}
						if format == "jwt" {
							body["audience"] = "agenttrust"
						}
						toks[who] = e.must(201, "POST", "/v1/tokens", e.key(who), body).json(t)
					}
					req := map[string]any{"tool_name": "payments.charge", "resource": "acct/1"}
					d := e.check(e.key("acme/bot"), req)
					var body any
					if remember {
						body = map[string]any{"remember": map[string]any{"uses": 5, "valid_for": "30m", "resources": []string{"acct/*"}}}
					}
					e.must(200, "POST", "/v1/approvals/"+d["approval_id"].(string)+"/approve", toks["acme/erin"]["token"].(string), body)
					e.must(204, "POST", "/v1/revocations", e.key("acme/root"), map[string]any{"id": toks[tc.revoke]["token_id"]})
					if remember {
						// The approval allows its own request: the grant
						// is what the next one rests on.
						req["resource"] = "acct/2"
					}
					d = e.check(e.key("acme/bot"), req)
					if want := map[bool]string{true: "allow", false: "needs_approval"}[tc.allowed]; d["effect"] != want {
						t.Errorf("effect %v, want %v: %v", d["effect"], want, d)
					}
				})
			}
		}
	}
}
