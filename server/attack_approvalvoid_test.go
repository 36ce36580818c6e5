package server

import (
	"strings"
	"testing"
)

// TestAttackStoppedApprovalReadsConsumedHTTP: an approver approves and
// an admin revokes its key before the request comes back. The check
// allows nothing, but GET /v1/approvals/{id} (what a waiting caller and
// the console read) answered "consumed", as if the request had gone
// through. It must answer denied, with a note saying why. An approval
// whose approver stands reads consumed (control).
func TestAttackStoppedApprovalReadsConsumedHTTP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke string
		want   string
	}{
		{name: "the approving key revoked", revoke: "acme/carol", want: "denied"},
		{name: "another approver's key revoked (control)", revoke: "acme/dave", want: "consumed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newGrantEnv(t)
			req := map[string]any{"tool_name": "payments.charge", "resource": "acct/1"}
			id := e.check(e.key("acme/bot"), req)["approval_id"].(string)
			e.must(200, "POST", "/v1/approvals/"+id+"/approve", e.key("acme/carol"), nil)
			e.must(204, "POST", "/v1/keys/"+e.ids[tc.revoke]+"/revoke", e.key("acme/root"), nil)
			e.check(e.key("acme/bot"), req)
			a := e.must(200, "GET", "/v1/approvals/"+id, e.key("acme/root"), nil).json(t)
			if a["status"] != tc.want {
				t.Errorf("approval %s: status %v, want %s: %v", id, a["status"], tc.want, a)
			}
			if note, _ := a["note"].(string); tc.want == "denied" && !strings.Contains(note, "allowed nothing") {
				t.Errorf("approval %s: note %q does not say it allowed nothing", id, note)
			}
		})
	}
}
