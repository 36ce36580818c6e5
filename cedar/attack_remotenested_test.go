package cedar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

type pathName string

type cents int64

// TestAttackRemoteNestedGoValues: `agenttrust serve --policy x.cedar`
// decides with the Cedar engine, which reads attributes at any depth and
// refuses, in process, a Go value it cannot hold (a []byte, a time.Time,
// a named string or number type, a []string) wherever it sits. remote
// Check replaced such a value with an empty object only at the top level:
// nested in a map or a list it went out as its JSON form, which the
// server judged as a plain string or number. The bytes of "/etc/passwd"
// became base64 text past a forbid on that path, a named type the
// string or number it wraps, and an empty json.Number (no number in
// process) the 0 encoding/json writes for it. The same request and the same Cedar policy
// must not be an allow through the server and a deny in process.
func TestAttackRemoteNestedGoValues(t *testing.T) {
	ce, err := cedar.Parse("nested.cedar", []byte(`
@id("no-etc")
forbid (principal, action == Action::"read", resource)
when { context.attr has order && context.attr.order has path && context.attr.order.path like "/etc/*" };

@id("no-etc-list")
forbid (principal, action == Action::"read", resource)
when { context.attr has paths && context.attr.paths.contains("/etc/passwd") };

@id("read")
permit (principal, action == Action::"read", resource);

@id("home")
permit (principal, action == Action::"list", resource)
when { context.attr.order.path like "/home/*" };

@id("small")
permit (principal, action == Action::"pay", resource)
when { context.attr.order.amount <= 50 };
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tokens := agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{{ID: "mk1", Secret: bytes.Repeat([]byte("m"), 32)}}})
	st := memory.New()
	srv, err := server.New(st, server.WithClientOptions(tokens, agenttrust.WithPolicyEngine(ce)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); _ = srv.Close(); _ = st.Close() })
	admin, err := srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := admin.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	viaServer, err := remote.New(ts.URL, secret, remote.WithRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = viaServer.Close() })
	local, err := agenttrust.New(memory.New(), agenttrust.WithTenant("acme"), agenttrust.WithPolicyEngine(ce))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })

	for _, tc := range []struct {
		name, tool string
		attrs      map[string]any
		allowed    bool
	}{
		{"bytes in a map", "read", map[string]any{"order": map[string]any{"path": []byte("/etc/passwd")}}, false},
		{"bytes in a list", "read", map[string]any{"paths": []any{[]byte("/etc/passwd")}}, false},
		{"list of strings in a list", "read", map[string]any{"paths": []any{[]string{"/etc/passwd"}}}, false},
		{"time in a map", "read", map[string]any{"order": map[string]any{"path": time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}, false},
		{"named string in a map", "list", map[string]any{"order": map[string]any{"path": pathName("/home/alice/x")}}, false},
		{"named number in a map", "pay", map[string]any{"order": map[string]any{"amount": cents(10)}}, false},
		{"empty number in a map", "pay", map[string]any{"order": map[string]any{"amount": json.Number("")}}, false},
		{"deeper", "read", map[string]any{"order": map[string]any{"path": "/tmp/x", "meta": []any{map[string]any{"raw": []byte("x")}}}}, false},
		// controls
		{"control: plain path", "read", map[string]any{"order": map[string]any{"path": "/tmp/x"}}, true},
		{"control: denied path", "read", map[string]any{"order": map[string]any{"path": "/etc/passwd"}}, false},
		{"control: list", "read", map[string]any{"paths": []any{"/tmp/x"}}, true},
		{"control: home", "list", map[string]any{"order": map[string]any{"path": "/home/alice/x"}}, true},
		{"control: amount", "pay", map[string]any{"order": map[string]any{"amount": 10}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := agenttrust.Request{AgentID: "bot", Tool: tc.tool, Attributes: tc.attrs}
			ld, lerr := local.Check(ctx, req)
			if ld.Allowed() != tc.allowed {
				t.Fatalf("in process: %v %q %v; want allowed %v", ld.Effect, ld.Rule, lerr, tc.allowed)
			}
			rd, rerr := viaServer.Check(ctx, req)
			if rd.Allowed() != tc.allowed {
				t.Errorf("through the server: %v %q %v; in process: %v %q %v", rd.Effect, rd.Rule, rerr, ld.Effect, ld.Rule, lerr)
			}
		})
	}
}
