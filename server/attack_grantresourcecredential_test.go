package server

import (
	"strings"
	"testing"
)

// TestAttackGrantResourceCredentialHTTP: a credential pasted into a
// resource glob of an approval remembered as a grant was redacted in the
// audit record of the grant ("agenttrust.remember", its resources
// attribute), but the grant stored the glob verbatim and GET /v1/grants
// returned it to every approver. A glob is what a grant matches, so it
// cannot be redacted without changing what the grant allows: one holding
// a credential must be refused, the approval left undecided.
func TestAttackGrantResourceCredentialHTTP(t *testing.T) {
	e := newGrantEnv(t)
	leaked := e.key("acme/dave")
	secret := leaked[len(leaked)-12:]
	d := e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": "acct/1"})
	id, _ := d["approval_id"].(string)
	if id == "" {
		t.Fatalf("no approval opened: %v", d)
	}
	r := e.do("POST", "/v1/approvals/"+id+"/approve", e.key("acme/carol"), map[string]any{
		"remember": map[string]any{"uses": 2, "valid_for": "10m", "resources": []string{"acct/*", "acct/" + leaked + "/*"}}})
	if r.status != 400 || strings.Contains(string(r.body), secret) {
		t.Errorf("approve remembering a glob holding a credential: %d %s; want 400 quoting no credential", r.status, r.body)
	}
	for _, path := range []string{"/v1/grants", "/v1/approvals/" + id, "/v1/audit"} {
		if got := e.must(200, "GET", path, e.key("acme/root"), nil); strings.Contains(string(got.body), secret) {
			t.Errorf("GET %s returns the pasted credential: %s", path, got.body)
		}
	}
}
