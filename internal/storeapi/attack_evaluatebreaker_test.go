package storeapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/storeapi"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackEvaluateHidesRequestDenials: the runaway breaker counts a deny
// the request caused (a condition it made unevaluable, a declared type it
// broke) as it counts any denial, and not a failing engine. Decided through
// the evaluate route (remote.NewPolicyEngine), such a deny came back as
// the engine failing, so an agent probing a deny rule with mistyped
// attributes was never suspended. Each probe is run in process first, as
// the control: there it trips the breaker.
func TestAttackEvaluateHidesRequestDenials(t *testing.T) {
	const policy = `
attributes:
  - {tools: [payments.refund], name: amount, type: number}
rules:
  - id: big
    effect: deny
    tools: [payments.transfer]
    when: ['attr.amount > 100']
  - id: open
    effect: allow
`
	probes := map[string]agenttrust.Request{
		"unevaluable_deny": {AgentID: "bot", Tool: "payments.transfer", Attributes: map[string]any{"amount": "5000"}},
		"declared_type":    {AgentID: "bot", Tool: "payments.refund", Attributes: map[string]any{"amount": "5000"}},
		"nan_amount":       {AgentID: "bot", Tool: "payments.transfer", Attributes: map[string]any{"amount": math.NaN()}},
		"empty_number":     {AgentID: "bot", Tool: "payments.transfer", Attributes: map[string]any{"amount": json.Number("")}},
	}
	breakers := map[string]agenttrust.BreakerConfig{
		"denials": {MaxDenials: 3, DenialWindow: time.Minute},
		"calls":   {MaxCalls: 2, CallWindow: time.Minute},
	}
	// The server: tenant acme's policy stored, evaluate answered from it.
	served := memory.New()
	t.Cleanup(func() { _ = served.Close() })
	if _, err := served.PutPolicy(context.Background(), store.PolicyDoc{Tenant: "acme", Format: "yaml", Body: []byte(policy), UpdatedAt: time.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	engine, err := storeapi.NewStoredPolicies(served)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, storeapi.NewHandler(served, storeapi.WithPolicyEngine(engine)))
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	ways := []struct {
		name string
		opt  func() agenttrust.Option
	}{
		{"in process", func() agenttrust.Option { return agenttrust.WithPolicy(p) }},
		{"evaluate route", func() agenttrust.Option {
			return agenttrust.WithPolicyEngine(storeapi.NewClient(srv.URL, nil, nil))
		}},
	}
	for pname, probe := range probes {
		for bname, cfg := range breakers {
			for _, way := range ways {
				t.Run(fmt.Sprint(pname, "/", bname, "/", way.name), func(t *testing.T) {
					c, err := agenttrust.New(memory.New(), agenttrust.WithTenant("acme"), way.opt(), agenttrust.WithBreaker(cfg))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = c.Close() })
					ctx := t.Context()
					for i := range 3 {
						d, err := c.Check(ctx, probe)
						if d.Allowed() || !errors.Is(err, agenttrust.ErrInvalidRequest) {
							t.Fatalf("probe %d: %+v, %v; want a deny with ErrInvalidRequest", i, d, err)
						}
					}
					d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
					if d.Allowed() || d.Reason != "agent suspended" {
						t.Fatalf("after 3 denied probes: %v %q, %v; want the agent suspended by the breaker", d.Effect, d.Reason, err)
					}
				})
			}
		}
	}
}
