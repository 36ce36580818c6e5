package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackToolCallCaseVariant: arguments that name a member in another
// case than the policy's attribute ({"AMOUNT":9999} against
// attr.amount) fill the tool's field all the same (encoding/json matches
// field names case-insensitively), so they never get past a rule or a
// caveat on that attribute: the call is denied, and the tool never runs
// with the value. The exact spelling is decided as before.
func TestAttackToolCallCaseVariant(t *testing.T) {
	variants := []string{
		`{"AMOUNT":9999}`,
		`{"Amount":9999}`,
		`{"aMoUnT":9999}`,
		`{"AMOUNT":1}`,
		`{"amoun\u0054":9999}`, // escaped T
		`{"to":"bob","AMOUNT":9999}`,
	}
	kelvin := []string{`{"ris` + "\u212a" + `":9999}`, `{"RIS\u212a":9999}`} // Kelvin sign for k
	longS := []string{`{"co` + "\u017f" + `t":9999}`, `{"co\u017Ft":9999}`}  // long s
	type tool struct {
		Amount int    `json:"amount"`
		Risk   int    `json:"risk"`
		Cost   int    `json:"cost"`
		To     string `json:"to"`
	}
	tests := []struct {
		name   string
		effect string // of the guard rule
		when   string // %s is the attribute
		attr   string
		args   []string
	}{
		{"deny/optional", "deny", "attr.%s? > 5000", "amount", variants},
		{"deny/optional/kelvin", "deny", "attr.%s? > 5000", "risk", kelvin},
		{"deny/optional/long_s", "deny", "attr.%s? > 5000", "cost", longS},
		{"needs_approval/optional", "needs_approval", "attr.%s? > 5000", "amount", variants},
		{"needs_approval/optional/kelvin", "needs_approval", "attr.%s? > 5000", "risk", kelvin},
		{"deny/plain", "deny", "attr.%s > 5000", "amount", variants},
		{"deny/plain/long_s", "deny", "attr.%s > 5000", "cost", longS},
	}
	ctx := agenttrust.WithAgent(context.Background(), "bot", "")
	for _, tt := range tests {
		cond := strings.ReplaceAll(tt.when, "%s", tt.attr)
		c := caseClient(t, []agenttrust.Rule{
			{ID: "guard", Effect: effectOf(t, tt.effect), Tools: []string{"payments.send"}, When: []string{cond}},
			{ID: "pay", Effect: agenttrust.Allow, Tools: []string{"payments.send"}},
		})
		for _, args := range tt.args {
			t.Run(tt.name+"/"+args, func(t *testing.T) {
				var in tool
				if err := json.Unmarshal([]byte(args), &in); err != nil || in.Amount+in.Risk+in.Cost == 0 {
					t.Fatalf("the tool does not read %s as %s: %+v %v", args, tt.attr, in, err)
				}
				d, err := middleware.CheckToolCall(ctx, c, "payments.send", []byte(args))
				if !errors.Is(err, middleware.ErrDenied) || !errors.Is(err, agenttrust.ErrUnevaluable) || d.Effect != agenttrust.Deny || d.Rule != "guard" {
					t.Fatalf("tool runs with %+v: %+v, %v; want a Deny by guard with ErrUnevaluable", in, d, err)
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(args), &m); err != nil {
					t.Fatal(err)
				}
				d, err = middleware.CheckToolCallValue(ctx, c, "payments.send", m)
				if !errors.Is(err, agenttrust.ErrUnevaluable) || d.Effect != agenttrust.Deny || d.Rule != "guard" {
					t.Fatalf("CheckToolCallValue: %+v, %v; want a Deny by guard with ErrUnevaluable", d, err)
				}
			})
		}
		t.Run(tt.name+"/exact", func(t *testing.T) {
			d, err := middleware.CheckToolCall(ctx, c, "payments.send", []byte(`{"`+tt.attr+`":9999}`))
			if err == nil || d.Effect == agenttrust.Allow || d.Rule != "guard" {
				t.Fatalf("over the limit: %+v, %v; want guard to decide", d, err)
			}
			if d, err := middleware.CheckToolCall(ctx, c, "payments.send", []byte(`{"`+tt.attr+`":1}`)); err != nil || d.Rule != "pay" {
				t.Fatalf("under the limit: %+v, %v; want Allow by pay", d, err)
			}
		})
	}

	// A caveat "attr.amount? <= 5" does not hold on AMOUNT.
	c := caseClient(t, []agenttrust.Rule{{ID: "pay", Effect: agenttrust.Allow, Tools: []string{"payments.send"}}})
	secret, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := agenttrust.Attenuate(tok, "attr.amount? <= 5")
	if err != nil {
		t.Fatal(err)
	}
	cctx := agenttrust.WithCredential(context.Background(), narrow)
	for _, args := range append(variants, `{"amount":9999}`) {
		t.Run("caveat/"+args, func(t *testing.T) {
			d, err := middleware.CheckToolCall(cctx, c, "payments.send", []byte(args))
			if !errors.Is(err, middleware.ErrDenied) || !errors.Is(err, agenttrust.ErrCaveat) || d.Effect != agenttrust.Deny {
				t.Fatalf("got %+v, %v; want a Deny with a caveat error", d, err)
			}
		})
	}
	t.Run("caveat/exact", func(t *testing.T) {
		if d, err := middleware.CheckToolCall(cctx, c, "payments.send", []byte(`{"amount":5}`)); err != nil || d.Effect != agenttrust.Allow {
			t.Fatalf("got %+v, %v; want Allow", d, err)
		}
	})
}

func caseClient(t *testing.T, rules []agenttrust.Rule) *agenttrust.Client {
	t.Helper()
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(&agenttrust.Policy{Rules: rules}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func effectOf(t *testing.T, s string) agenttrust.Effect {
	t.Helper()
	switch s {
	case "deny":
		return agenttrust.Deny
	case "needs_approval":
		return agenttrust.NeedsApproval
	}
	t.Fatalf("effect %q", s)
	return 0
}

// TestAttackResourceKeyCaseVariant: the argument a ResourceKey names is
// the resource under any spelling a tool reads it by ({"Customer":...}
// fills `json:"customer"`), so a deny rule on resources sees it.
func TestAttackResourceKeyCaseVariant(t *testing.T) {
	c := caseClient(t, []agenttrust.Rule{
		{ID: "no-vip", Effect: agenttrust.Deny, Tools: []string{"crm.read"}, Resources: []string{"vip-*"}},
		{ID: "reads", Effect: agenttrust.Allow, Tools: []string{"crm.read"}},
	})
	ctx := agenttrust.WithAgent(context.Background(), "bot", "")
	for _, args := range []string{
		`{"customer":"vip-1"}`,
		`{"Customer":"vip-1"}`,
		`{"CUSTOMER":"vip-1"}`,
		`{"custome\u0052":"vip-1"}`,
		`{"note":"x","cUsToMeR":"vip-1"}`,
	} {
		t.Run(args, func(t *testing.T) {
			var in struct {
				Customer string `json:"customer"`
			}
			if err := json.Unmarshal([]byte(args), &in); err != nil || in.Customer != "vip-1" {
				t.Fatalf("the tool does not read %s as customer: %+v %v", args, in, err)
			}
			d, err := middleware.CheckToolCall(ctx, c, "crm.read", []byte(args), middleware.ResourceKey("customer"))
			if !errors.Is(err, middleware.ErrDenied) || d.Effect != agenttrust.Deny || d.Rule != "no-vip" {
				t.Fatalf("tool runs on customer %q: %+v, %v; want a Deny by no-vip", in.Customer, d, err)
			}
		})
	}
	if d, err := middleware.CheckToolCall(ctx, c, "crm.read", []byte(`{"Customer":"c-1"}`), middleware.ResourceKey("customer")); err != nil || !d.Allowed() {
		t.Fatalf("control, another customer: %+v %v", d, err)
	}
}
