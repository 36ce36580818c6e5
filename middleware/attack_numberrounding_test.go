package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackArgumentNumberRounding: the policy compares a number argument
// exactly, while a tool decoding it into a float64 (or an any, or through
// a map of float64s as the MCP SDK does) reads the nearest float64. A
// number that float64 cannot tell from another one reads, for the tool,
// as a value the policy never saw: 4999.99999999999999999 passes a deny
// of amounts from 5000 and is charged as 5000; 2^53+1 passes a deny of
// account 2^53 and acts on it. Such a number is refused before the check;
// one a float64 reads as itself (0.1, 4999.99, 1e2) is checked as before.
func TestAttackArgumentNumberRounding(t *testing.T) {
	c := caseClient(t, []agenttrust.Rule{
		{ID: "big", Effect: agenttrust.Deny, Tools: []string{"payments.charge"}, When: []string{"attr.amount >= 5000"}},
		{ID: "frozen", Effect: agenttrust.Deny, Tools: []string{"payments.charge"}, When: []string{"attr.account = 9007199254740992"}},
		{ID: "charges", Effect: agenttrust.Allow, Tools: []string{"payments.charge"}},
	})
	ctx := agenttrust.WithAgent(context.Background(), "bot", "")
	type charge struct {
		Amount  float64 `json:"amount"`
		Account float64 `json:"account"`
	}
	denied := func(ch charge) bool { return ch.Amount >= 5000 || ch.Account == 9007199254740992 }
	for _, args := range []string{
		`{"amount":4999.99999999999999999,"account":1}`,
		`{"amount":4999.9999999999999999999999999,"account":1}`,
		`{"amount":49999999999999999999e-16,"account":1}`,
		`{"amount":1,"account":9007199254740993}`,
		`{"amount":1,"account":9007199254740992.5}`,
	} {
		t.Run(args, func(t *testing.T) {
			var ch charge
			if err := json.Unmarshal([]byte(args), &ch); err != nil {
				t.Fatal(err)
			}
			if !denied(ch) {
				t.Fatalf("the tool reads %s as %+v, which the policy allows anyway", args, ch)
			}
			d, err := middleware.CheckToolCall(ctx, c, "payments.charge", []byte(args))
			if d.Effect == agenttrust.Allow || err == nil {
				t.Fatalf("the tool charges %+v: %v, %v; want a refusal", ch, d.Effect, err)
			}
		})
	}
	for _, args := range []string{`{"amount":4999.99,"account":1}`, `{"amount":0.1,"account":1}`, `{"amount":1e2,"account":1}`, `{"amount":-0.000001,"account":1}`, `{"amount":1,"account":9007199254740991}`} {
		if d, err := middleware.CheckToolCall(ctx, c, "payments.charge", []byte(args)); err != nil || d.Effect != agenttrust.Allow {
			t.Errorf("control %s: %v, %v; want an Allow", args, d.Effect, err)
		}
	}
	if d, err := middleware.CheckToolCall(ctx, c, "payments.charge", []byte(`{"amount":5000,"account":1}`)); !errors.Is(err, middleware.ErrDenied) || d.Effect != agenttrust.Deny {
		t.Errorf("control 5000: %v, %v; want the deny", d.Effect, err)
	}
}
