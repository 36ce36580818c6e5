package agenttrust_test

import (
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackBareSlash: a deny or needs_approval rule written with a
// trailing slash, as a directory or a site's root is ("/data/secret/",
// "https://api.example.com/", which is how a URI spells an empty path),
// was dodged by a query, a fragment or a path parameter after the slash:
// "/data/secret/?x" matched no rule as written, and its bare form,
// "/data/secret", cut the slash the rule holds. A router serves it as
// "/data/secret/", and a file system reads that directory. The strict
// rules of the bare form with its slash hold it too.
func TestAttackBareSlash(t *testing.T) {
	checkResources(t, "rules:\n"+
		" - id: secret\n   effect: deny\n   tools: [files.read]\n   resources: [/data/secret/]\n"+
		" - id: root\n   effect: deny\n   tools: [http.get]\n   resources: [\"https://internal.example.com/\"]\n"+
		" - id: files\n   effect: deny\n   tools: [files.read]\n   resources: [\"file:///\"]\n"+
		" - id: wire\n   effect: needs_approval\n   tools: [http.post]\n   resources: [/payments/wire/]\n"+
		" - id: all\n   effect: allow\n   tools: [files.read, http.get, http.post]\n", []resourceCase{
		{"files.read", "/data/secret/?x", agenttrust.Deny, "secret", nil},
		{"files.read", "/data/secret/#x", agenttrust.Deny, "secret", nil},
		{"files.read", "/data/secret/;x", agenttrust.Deny, "secret", nil},
		{"files.read", "/data/secret;x/", agenttrust.Deny, "secret", nil},
		{"http.get", "https://internal.example.com/?debug=1", agenttrust.Deny, "root", nil},
		{"http.get", "https://internal.example.com/;x", agenttrust.Deny, "root", nil},
		{"files.read", "file:///?x", agenttrust.Deny, "files", nil},
		{"http.post", "/payments/wire/?amount=1", agenttrust.NeedsApproval, "wire", nil},
		// Controls: as written, and never wider.
		{"files.read", "/data/secret/", agenttrust.Deny, "secret", nil},
		{"files.read", "/data/secrets/?x", agenttrust.Allow, "all", nil},
		{"http.get", "https://internal.example.com/a?x", agenttrust.Allow, "all", nil},
		{"http.post", "/payments/wire2/?x", agenttrust.Allow, "all", nil},
	})
}
