package agenttrust_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackResourceSuffix: routers serve "/admin?x", "/admin#x" and
// "/admin;jsessionid=1" (servlet containers strip path parameters from
// every segment) as "/admin", so an exact deny or needs_approval rule
// on "/admin" was dodged by a query, a fragment or a parameter, as by a
// trailing slash (TestAttackTrailingSlash). The rules of the bare
// resource hold it too; allow rules still match only as written.
func TestAttackResourceSuffix(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte("rules:\n"+
		" - id: admin\n   effect: deny\n   tools: [http.get]\n   resources: [\"https://api.example.com/admin\", \"https://api.example.com/admin/**\"]\n"+
		" - id: users\n   effect: deny\n   tools: [http.get]\n   resources: [/api/users/*]\n"+
		" - id: wire\n   effect: needs_approval\n   tools: [http.post]\n   resources: [/payments/wire]\n"+
		" - id: report\n   effect: allow\n   tools: [http.get]\n   resources: [/report]\n"+
		" - id: all\n   effect: allow\n   tools: [http.get, http.post]\n"), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		tool, resource string
		want           agenttrust.Effect
		rule           string
	}{
		{"http.get", "https://api.example.com/admin?debug=1", agenttrust.Deny, "admin"},
		{"http.get", "https://api.example.com/admin#top", agenttrust.Deny, "admin"},
		{"http.get", "https://api.example.com/admin;jsessionid=1", agenttrust.Deny, "admin"},
		{"http.get", "https://api.example.com/admin;x/keys", agenttrust.Deny, "admin"},
		{"http.get", "/api/users/7;v=2", agenttrust.Deny, "users"},
		{"http.get", "/api/users/7/?x", agenttrust.Deny, "users"},
		{"http.post", "/payments/wire?amount=1", agenttrust.NeedsApproval, "wire"},
		{"http.post", "/payments;a/wire", agenttrust.NeedsApproval, "wire"},
		// Controls.
		{"http.get", "https://api.example.com/administer?x", agenttrust.Allow, "all"},
		{"http.get", "/api/users", agenttrust.Allow, "all"},
		{"http.get", "/report", agenttrust.Allow, "report"},
		{"http.get", "/report?x", agenttrust.Allow, "all"},
	} {
		t.Run(tc.tool+" "+tc.resource, func(t *testing.T) {
			d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: tc.tool, Resource: tc.resource})
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != tc.want || d.Rule != tc.rule {
				t.Fatalf("%v by %q, want %v by %q", d.Effect, d.Rule, tc.want, tc.rule)
			}
		})
	}
}
