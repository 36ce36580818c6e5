package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackBreakerUnevaluableDenials: the runaway breaker counts every
// decision of the rules, also a deny that comes with an error because the
// request made a condition unevaluable or broke a declared attribute type.
// Otherwise an agent probing a deny rule with a mistyped attribute is
// denied without end and never suspended, nor caught by the call rate.
func TestAttackBreakerUnevaluableDenials(t *testing.T) {
	ctx := context.Background()
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
	}
	breakers := map[string]agenttrust.BreakerConfig{
		"denials": {MaxDenials: 3, DenialWindow: time.Minute},
		"calls":   {MaxCalls: 2, CallWindow: time.Minute},
	}
	for pname, probe := range probes {
		for bname, cfg := range breakers {
			t.Run(fmt.Sprint(pname, "/", bname), func(t *testing.T) {
				f := newFixture(t, policy, agenttrust.WithBreaker(cfg))
				for i := range 3 {
					d, err := f.c.Check(ctx, probe)
					if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
						t.Fatalf("probe %d: %+v, %v; want a Deny with ErrInvalidRequest", i, d, err)
					}
				}
				// The agent should be suspended now: even an allowed call is refused.
				d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
				if d.Allowed() || d.Reason != "agent suspended" {
					t.Fatalf("after 3 denied probes: %v %q, %v; want the agent suspended by the breaker", d.Effect, d.Reason, err)
				}
			})
		}
	}
}
