package server

import "testing"

// TestAttackApprovalOutlivesApproverKeyHTTP: an approver approves with
// its API key and an admin revokes that key (it leaked) before the
// request comes back: the approval named only the approver's agent, and
// let the request through under a key the operator had stopped.
// Revoking another approver's key changes nothing (control).
func TestAttackApprovalOutlivesApproverKeyHTTP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		revoke  string
		allowed bool
	}{
		{name: "the approving key revoked", revoke: "acme/carol"},
		{name: "another approver's key revoked (control)", revoke: "acme/dave", allowed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newGrantEnv(t)
			req := map[string]any{"tool_name": "payments.charge", "resource": "acct/1"}
			d := e.check(e.key("acme/bot"), req)
			id := d["approval_id"].(string)
			e.must(200, "POST", "/v1/approvals/"+id+"/approve", e.key("acme/carol"), nil)
			e.must(204, "POST", "/v1/keys/"+e.ids[tc.revoke]+"/revoke", e.key("acme/root"), nil)
			d = e.check(e.key("acme/bot"), req)
			if want := map[bool]string{true: "allow", false: "needs_approval"}[tc.allowed]; d["effect"] != want {
				t.Errorf("the approved request: effect %v, want %v: %v", d["effect"], want, d)
			}
			if !tc.allowed && d["approval_id"] == id {
				t.Errorf("the request waits on the approval of the revoked key: %v", d)
			}
		})
	}
}
