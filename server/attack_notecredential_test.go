package server

import (
	"strings"
	"testing"
)

// TestAttackNoteCredentialHTTP: a credential pasted into an approval
// note, a refusal note or a suspension reason was redacted in the audit
// record, but the stored approval or block kept it, and GET
// /v1/approvals (what the console and the CLI read, and what the agent
// that asked may read of its own approvals) and GET /v1/revocations
// returned it verbatim. Free text a person typed must be stored as the
// audit record keeps it: redacted.
func TestAttackNoteCredentialHTTP(t *testing.T) {
	e := newGrantEnv(t)
	leaked := e.key("acme/dave") // a live key pasted by mistake
	secret := leaked[len(leaked)-12:]
	note := "ok, see " + leaked
	approvalOf := func(resource string) string {
		t.Helper()
		d := e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "resource": resource})
		id, _ := d["approval_id"].(string)
		if id == "" {
			t.Fatalf("no approval opened: %v", d)
		}
		return id
	}
	approved, refused, withdrawn, remembered := approvalOf("acct/1"), approvalOf("acct/2"), approvalOf("acct/3"), approvalOf("acct/4")
	e.must(200, "POST", "/v1/approvals/"+approved+"/approve", e.key("acme/carol"), map[string]any{"note": note})
	e.must(200, "POST", "/v1/approvals/"+refused+"/deny", e.key("acme/carol"), map[string]any{"note": note})
	e.must(200, "POST", "/v1/approvals/"+withdrawn+"/approve", e.key("acme/carol"), map[string]any{"note": "fine"})
	e.must(200, "POST", "/v1/approvals/"+withdrawn+"/deny", e.key("acme/carol"), map[string]any{"note": note})
	e.must(200, "POST", "/v1/approvals/"+remembered+"/approve", e.key("acme/carol"), map[string]any{"note": note, "remember": map[string]any{"uses": 2, "valid_for": "10m"}})
	e.must(204, "POST", "/v1/agents/mallory/suspend", e.key("acme/root"), map[string]any{"reason": "leaked " + leaked})

	reads := map[string]struct{ path, cred string }{
		"approvals, as admin":         {"/v1/approvals", e.key("acme/root")},
		"approvals, as the agent":     {"/v1/approvals", e.key("acme/bot")},
		"approved approval":           {"/v1/approvals/" + approved, e.key("acme/carol")},
		"refused approval":            {"/v1/approvals/" + refused, e.key("acme/carol")},
		"withdrawn approval":          {"/v1/approvals/" + withdrawn, e.key("acme/carol")},
		"remembered approval":         {"/v1/approvals/" + remembered, e.key("acme/carol")},
		"revocations and suspensions": {"/v1/revocations", e.key("acme/root")},
		"audit (control)":             {"/v1/audit", e.key("acme/root")},
	}
	for name, r := range reads {
		t.Run(name, func(t *testing.T) {
			got := e.must(200, "GET", r.path, r.cred, nil)
			if strings.Contains(string(got.body), secret) {
				t.Errorf("GET %s returns the pasted credential: %s", r.path, got.body)
			}
		})
	}
}
