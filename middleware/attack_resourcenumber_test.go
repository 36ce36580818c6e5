package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackResourceKeyNumberSpelling: a number that names the resource
// has many spellings (1e2, 100.0, 0.1e3) and a tool that reads it as a
// number (a float64, an `any`, the MCP SDK's map, which then fills an
// int field) reads every one as 100; an integer past 2^53 reads as the
// float64 next to it. So a deny rule on resource "100" (or on the id
// 2^53+1 rounds to) must not be dodged by another spelling: the call is
// denied, and the canonical spelling is decided as before.
func TestAttackResourceKeyNumberSpelling(t *testing.T) {
	const victim = "100"
	const bigVictim = "9007199254740992" // 2^53, what 9007199254740993 reads as
	c := caseClient(t, []agenttrust.Rule{
		{ID: "not-these", Effect: agenttrust.Deny, Tools: []string{"crm.read"}, Resources: []string{victim, bigVictim}},
		{ID: "reads", Effect: agenttrust.Allow, Tools: []string{"crm.read"}},
	})
	ctx := agenttrust.WithAgent(context.Background(), "bot", "")
	// toolReads is the customer a tool reads from args: a number decoded
	// as encoding/json decodes into any, printed as an id.
	toolReads := func(t *testing.T, args string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(args), &m); err != nil {
			t.Fatal(err)
		}
		f, ok := m["customer"].(float64)
		if !ok {
			t.Fatalf("customer in %s is not a number", args)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	for _, args := range []string{
		`{"customer":1e2}`,
		`{"customer":1E2}`,
		`{"customer":1e+2}`,
		`{"customer":100.0}`,
		`{"customer":100.000}`,
		`{"customer":1.00e2}`,
		`{"customer":0.1e3}`,
		`{"customer":10000e-2}`,
		`{"customer":9007199254740993}`,
		`{"customer":9007199254740992.0}`,
	} {
		t.Run(args, func(t *testing.T) {
			got := toolReads(t, args)
			if got != victim && got != bigVictim {
				t.Fatalf("the tool reads %s as customer %s, not a denied one", args, got)
			}
			d, err := middleware.CheckToolCall(ctx, c, "crm.read", []byte(args), middleware.ResourceKey("customer"))
			if !errors.Is(err, middleware.ErrDenied) || d.Effect != agenttrust.Deny {
				t.Fatalf("tool runs on customer %s: %+v, %v; want a Deny", got, d, err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(args), &m); err != nil {
				t.Fatal(err)
			}
			d, err = middleware.CheckToolCallValue(ctx, c, "crm.read", m, middleware.ResourceKey("customer"))
			if !errors.Is(err, middleware.ErrDenied) || d.Effect != agenttrust.Deny {
				t.Fatalf("CheckToolCallValue: tool runs on customer %s: %+v, %v; want a Deny", got, d, err)
			}
		})
	}
	for _, tc := range []struct{ args, resource string }{
		{`{"customer":100}`, ""},
		{`{"customer":9007199254740992}`, ""},
		{`{"customer":42}`, "42"},
		{`{"customer":-42}`, "-42"},
		{`{"customer":0}`, "0"},
		{`{"customer":"1e2"}`, "1e2"},
	} {
		t.Run("control "+tc.args, func(t *testing.T) {
			d, err := middleware.CheckToolCall(ctx, c, "crm.read", []byte(tc.args), middleware.ResourceKey("customer"))
			if tc.resource == "" {
				if d.Effect != agenttrust.Deny || d.Rule != "not-these" {
					t.Fatalf("%+v, %v; want a Deny by not-these", d, err)
				}
				return
			}
			if err != nil || !d.Allowed() {
				t.Fatalf("%+v, %v; want an Allow", d, err)
			}
		})
	}
}
