package agenttrust_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackEmptyAttributeDodgesGlob: an attribute present with the empty
// string is present. "attr.override? in *" matched every value but "",
// which was read as the attribute being absent (as an empty session or
// on_behalf_of is), so {"override": ""} passed a deny of any override
// and the tool received the override the policy meant to refuse. A
// request without the attribute is still allowed.
func TestAttackEmptyAttributeDodgesGlob(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `
rules:
  - id: no-override
    effect: deny
    tools: [deploy]
    when: ['attr.override? in *']
  - id: open
    effect: allow
    tools: [deploy]
`)
	for _, attrs := range []map[string]any{{"override": ""}, {"override": "x"}} {
		if d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "deploy", Attributes: attrs}); d.Effect != agenttrust.Deny || d.Rule != "no-override" {
			t.Errorf("%v: %v by %q (%v), want a deny by no-override", attrs, d.Effect, d.Rule, err)
		}
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "deploy"}); d.Effect != agenttrust.Allow {
		t.Errorf("control, no override: %v (%v), want an allow", d.Effect, err)
	}
}
