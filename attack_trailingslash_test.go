package agenttrust_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
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
	checkResources(t, doc, []resourceCase{
		{"files.read", "/data/secret/", agenttrust.Deny, "secret", nil},
		{"mail.read", "mailbox:bob/inbox/", agenttrust.Deny, "bob", nil},
		{"http.get", "https://api.example.com/admin/", agenttrust.NeedsApproval, "admin", nil},
		{"files.read", "/data/big/", agenttrust.Deny, "big", map[string]any{"size": 500}},
		{"files.read", "/other/7/", agenttrust.Deny, "other-7", nil},
		// Controls: as written, and never wider.
		{"files.read", "/data/secret", agenttrust.Deny, "secret", nil},
		{"files.read", "/data/big/", agenttrust.Allow, "all", map[string]any{"size": 5}},
		{"files.read", "/data/secretive/", agenttrust.Allow, "all", nil},
		{"files.read", "/", agenttrust.Allow, "all", nil},
		{"pages.read", "/public", agenttrust.Allow, "public", nil},
		{"pages.read", "/public/", agenttrust.Deny, "", nil},
	})
}
