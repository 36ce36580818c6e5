package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackCompoundArgumentAsText: one request, one decision. The HTTP
// API (POST /v1/actions/check) hands the engine a JSON object or list
// attribute as an object or list, on which no condition of the rule
// engine can be evaluated; CheckToolCall (and JSONBodyAttributes, the
// MCP middleware and the framework adapters, which share it) handed it
// the compact JSON text instead, a string that globs and equality
// judge. {"path":["/etc/passwd"]} passed a deny of "attr.path in
// /etc/*" ("[\"/etc/passwd\"]" is not under /etc/) that the API applies,
// and a list matched an allow of "attr.tag in *": the tool then read a
// list the policy never judged. The same JSON must be decided alike on
// both surfaces.
func TestAttackCompoundArgumentAsText(t *testing.T) {
	const policy = `{"rules":[
 {"id":"no-etc","effect":"deny","tools":["files.read"],"when":["attr.path in /etc/*"]},
 {"id":"read","effect":"allow","tools":["files.read"]},
 {"id":"no-admin","effect":"deny","tools":["mail.send"],"when":["attr.to in *admin*"]},
 {"id":"send","effect":"allow","tools":["mail.send"]},
 {"id":"tagged","effect":"allow","tools":["notes.tag"],"when":["attr.tag in *"]}
]}`
	ctx := context.Background()
	st := memory.New()
	srv, err := server.New(st)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); _ = srv.Close(); _ = st.Close() })
	admin, err := srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SavePolicy(ctx, []byte(policy), "json", 0); err != nil {
		t.Fatal(err)
	}
	secret, _, err := admin.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := agenttrust.ParsePolicy([]byte(policy), "json")
	if err != nil {
		t.Fatal(err)
	}
	local, err := agenttrust.New(memory.New(), agenttrust.WithTenant("acme"), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	api := func(tool, args string) bool {
		body, _ := json.Marshal(map[string]any{"tool_name": tool, "attributes": json.RawMessage(args)})
		r, _ := http.NewRequest("POST", ts.URL+"/v1/actions/check", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+secret)
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Allowed bool `json:"allowed"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
			return false
		}
		return out.Allowed
	}
	agent := agenttrust.WithAgent(ctx, "bot", "")
	for _, tc := range []struct {
		tool, args string
		allowed    bool
	}{
		{"files.read", `{"path":["/etc/passwd"]}`, false},
		{"files.read", `{"path":{"0":"/etc/shadow"}}`, false},
		{"files.read", `{"path":[["/etc/passwd"]]}`, false},
		{"mail.send", `{"to":["admin@corp.example"]}`, false},
		{"mail.send", `{"to":[]}`, false},
		{"notes.tag", `{"tag":["x"]}`, false},
		{"notes.tag", `{"tag":{}}`, false},
		// controls
		{"files.read", `{"path":"/home/bot/x"}`, true},
		{"files.read", `{"path":"/etc/passwd"}`, false},
		{"mail.send", `{"to":"bob@corp.example"}`, true},
		{"notes.tag", `{"tag":"x"}`, true},
	} {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			if got := api(tc.tool, tc.args); got != tc.allowed {
				t.Fatalf("HTTP API allowed=%v, want %v", got, tc.allowed)
			}
			d, err := middleware.CheckToolCall(agent, local, tc.tool, []byte(tc.args))
			if d.Allowed() != tc.allowed {
				t.Errorf("CheckToolCall: %v by %q (%v); the HTTP API allowed=%v", d.Effect, d.Rule, err, tc.allowed)
			}
		})
	}
}
