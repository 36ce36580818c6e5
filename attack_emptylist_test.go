package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// An allow rule whose tools (or agents, or resources) list was left
// empty, as a placeholder or by a config generator that found nothing to
// list, reads as "no tool"; the engine read it as "any tool" and allowed
// everything. A list that is present must name something: the policy is
// refused, and omitting the field is how a rule says "any".
func TestAttackEmptyListAllowsEverything(t *testing.T) {
	cases := map[string]struct{ src, format string }{
		"yaml tools":     {"rules:\n- id: reader\n  effect: allow\n  agents: [reader]\n  tools: []\n", "yaml"},
		"yaml agents":    {"rules:\n- id: reader\n  effect: allow\n  agents: []\n  tools: [db.read]\n", "yaml"},
		"yaml resources": {"rules:\n- id: reader\n  effect: allow\n  agents: [reader]\n  tools: [db.read]\n  resources: []\n", "yaml"},
		"yaml approvers": {"rules:\n- id: wire\n  effect: needs_approval\n  tools: [payments.wire]\n  approvers: []\n", "yaml"},
		"json tools":     {`{"rules":[{"id":"reader","effect":"allow","agents":["reader"],"tools":[]}]}`, "json"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := agenttrust.ParsePolicy([]byte(tc.src), tc.format)
			if err == nil {
				// Were it accepted, this is what it would do.
				c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
				if err != nil {
					t.Fatalf("%v", err)
				}
				defer c.Close()
				d, _ := c.Check(context.Background(), agenttrust.Request{AgentID: "mallory", Tool: "payments.charge", Resource: "acct:1"})
				t.Fatalf("policy loaded; a check of another agent's payment was %v", d.Effect)
			}
			var pe *agenttrust.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a %T", err, &pe)
			}
		})
	}
	// The same through the Go API: a non-nil empty list is refused, a nil
	// one matches any value as documented.
	_, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(&agenttrust.Policy{Rules: []agenttrust.Rule{
		{ID: "r", Effect: agenttrust.Allow, Agents: []string{"reader"}, Tools: []string{}},
	}}))
	if !errors.Is(err, agenttrust.ErrInvalidPolicy) {
		t.Fatalf("err = %v, want %v", err, agenttrust.ErrInvalidPolicy)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(&agenttrust.Policy{Rules: []agenttrust.Rule{
		{ID: "r", Effect: agenttrust.Allow, Agents: []string{"reader"}},
	}}))
	if err != nil {
		t.Fatalf("%v", err)
	}
	c.Close()
}
