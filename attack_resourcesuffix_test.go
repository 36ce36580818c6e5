package agenttrust_test

import (
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackResourceSuffix: routers serve "/admin?x", "/admin#x" and
// "/admin;jsessionid=1" (servlet containers strip path parameters from
// every segment) as "/admin", so an exact deny or needs_approval rule
// on "/admin" was dodged by a query, a fragment or a parameter, as by a
// trailing slash (TestAttackTrailingSlash). The rules of the bare
// resource hold it too; allow rules still match only as written.
func TestAttackResourceSuffix(t *testing.T) {
	checkResources(t, "rules:\n"+
		" - id: admin\n   effect: deny\n   tools: [http.get]\n   resources: [\"https://api.example.com/admin\", \"https://api.example.com/admin/**\"]\n"+
		" - id: users\n   effect: deny\n   tools: [http.get]\n   resources: [/api/users/*]\n"+
		" - id: wire\n   effect: needs_approval\n   tools: [http.post]\n   resources: [/payments/wire]\n"+
		" - id: report\n   effect: allow\n   tools: [http.get]\n   resources: [/report]\n"+
		" - id: all\n   effect: allow\n   tools: [http.get, http.post]\n", []resourceCase{
		{"http.get", "https://api.example.com/admin?debug=1", agenttrust.Deny, "admin", nil},
		{"http.get", "https://api.example.com/admin#top", agenttrust.Deny, "admin", nil},
		{"http.get", "https://api.example.com/admin;jsessionid=1", agenttrust.Deny, "admin", nil},
		{"http.get", "https://api.example.com/admin;x/keys", agenttrust.Deny, "admin", nil},
		{"http.get", "/api/users/7;v=2", agenttrust.Deny, "users", nil},
		{"http.get", "/api/users/7/?x", agenttrust.Deny, "users", nil},
		{"http.post", "/payments/wire?amount=1", agenttrust.NeedsApproval, "wire", nil},
		{"http.post", "/payments;a/wire", agenttrust.NeedsApproval, "wire", nil},
		// Controls.
		{"http.get", "https://api.example.com/administer?x", agenttrust.Allow, "all", nil},
		{"http.get", "/api/users", agenttrust.Allow, "all", nil},
		{"http.get", "/report", agenttrust.Allow, "report", nil},
		{"http.get", "/report?x", agenttrust.Allow, "all", nil},
	})
}
