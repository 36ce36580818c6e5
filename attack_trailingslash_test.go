package agenttrust_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackTrailingSlash: a deny or needs_approval rule on a resource
// was dodged by adding a slash. "/data/secret/" is the directory
// "/data/secret" to a file system and "/admin/" the route "/admin" to
// many routers, but an exact deny on "/data/secret" did not match it, nor
// did "mailbox:bob/*" match "mailbox:bob/inbox/" (* stays within one
// segment): an allow rule covering both let them through. The deny and
// needs_approval rules of the resource without its trailing slash now
// hold it too; allow rules still match only as written.
func TestAttackTrailingSlash(t *testing.T) {
	// Enough exact deny rules on the same agent and tool that the
	// policy index splits them by resource.
	var many strings.Builder
	for i := range 40 {
		fmt.Fprintf(&many, " - id: other-%d\n   effect: deny\n   tools: [files.read]\n   resources: [/other/%d]\n", i, i)
	}
	doc := "rules:\n" +
		" - id: secret\n   effect: deny\n   tools: [files.read]\n   resources: [/data/secret]\n" +
		" - id: bob\n   effect: deny\n   tools: [mail.read]\n   resources: [\"mailbox:bob/*\"]\n" +
		" - id: admin\n   effect: needs_approval\n   tools: [http.get]\n   resources: [\"https://api.example.com/admin\"]\n" +
		" - id: big\n   effect: deny\n   tools: [files.read]\n   resources: [/data/big]\n   when: [\"attr.size > 100\"]\n" +
		many.String() +
		" - id: public\n   effect: allow\n   tools: [pages.read]\n   resources: [/public]\n" +
		" - id: all\n   effect: allow\n   tools: [files.read, mail.read, http.get]\n"
	p, err := agenttrust.ParsePolicy([]byte(doc), "yaml")
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
		attrs          map[string]any
		want           agenttrust.Effect
		rule           string
	}{
		{"files.read", "/data/secret/", nil, agenttrust.Deny, "secret"},
		{"mail.read", "mailbox:bob/inbox/", nil, agenttrust.Deny, "bob"},
		{"http.get", "https://api.example.com/admin/", nil, agenttrust.NeedsApproval, "admin"},
		{"files.read", "/data/big/", map[string]any{"size": 500}, agenttrust.Deny, "big"},
		{"files.read", "/other/7/", nil, agenttrust.Deny, "other-7"},
		// Controls: as written, and never wider.
		{"files.read", "/data/secret", nil, agenttrust.Deny, "secret"},
		{"files.read", "/data/big/", map[string]any{"size": 5}, agenttrust.Allow, "all"},
		{"files.read", "/data/secretive/", nil, agenttrust.Allow, "all"},
		{"files.read", "/", nil, agenttrust.Allow, "all"},
		{"pages.read", "/public", nil, agenttrust.Allow, "public"},
		{"pages.read", "/public/", nil, agenttrust.Deny, ""},
	} {
		t.Run(tc.tool+" "+tc.resource, func(t *testing.T) {
			d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: tc.tool, Resource: tc.resource, Attributes: tc.attrs})
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != tc.want || d.Rule != tc.rule {
				t.Fatalf("%v by %q, want %v by %q", d.Effect, d.Rule, tc.want, tc.rule)
			}
		})
	}
}
