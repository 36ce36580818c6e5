package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackDeclaredTypeCaseVariant: a policy's attribute declarations
// refuse a mistyped attribute before any rule, even under an allow rule
// without conditions, so a tool behind such a rule gets the type
// declared. An optional declared attribute sent only under a name that
// differs in case (AMOUNT, a Kelvin sign for k) was not looked at: the
// declaration found the attribute missing, which an optional one may be,
// and the allow rule let the request through, while a tool decoding its
// arguments into a struct (encoding/json matches names case-
// insensitively) read the value as the attribute: a string where a
// number was declared. The value under a case-variant name is held to
// the declaration as the attribute's own.
func TestAttackDeclaredTypeCaseVariant(t *testing.T) {
	ctx := context.Background()
	doc := "attributes:\n"
	for _, v := range attrCaseVariants {
		doc += "  - {tools: [payments.send], name: " + v.attr + ", type: number}\n"
	}
	doc += "  - {name: note, type: string}\n  - {name: force, type: boolean}\nrules:\n  - id: open\n    effect: allow\n"
	f := newFixture(t, doc)
	type tc struct {
		name  string
		attrs map[string]any
	}
	var bad []tc
	for _, v := range attrCaseVariants {
		bad = append(bad,
			tc{v.key + "/string", map[string]any{v.key: "9999"}},
			tc{v.key + "/bool", map[string]any{v.key: true}},
			tc{v.key + "/object", map[string]any{v.key: map[string]any{"value": 9999}}},
		)
	}
	bad = append(bad,
		tc{"NOTE/number", map[string]any{"NOTE": 5}},
		tc{"Force/string", map[string]any{"Force": "yes"}},
	)
	for _, tt := range bad {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.send", Attributes: tt.attrs})
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || d.Effect != agenttrust.Deny {
				t.Fatalf("got %v %q, %v; want Deny with ErrInvalidRequest", d.Effect, d.Rule, err)
			}
		})
	}
	// Controls: the declared type under either spelling, and a tool the
	// declaration does not cover, pass the declarations.
	ok := []tc{
		{"exact", map[string]any{"amount": 5, "note": "x", "force": false}},
		{"variant_typed", map[string]any{"AMOUNT": 5, "Note": "x", "FORCE": true}},
	}
	for _, tt := range ok {
		t.Run("ok/"+tt.name, func(t *testing.T) {
			if d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.send", Attributes: tt.attrs}); err != nil || !d.Allowed() {
				t.Fatalf("got %v, %v; want Allow", d.Effect, err)
			}
		})
	}
	t.Run("ok/tool_not_declared", func(t *testing.T) {
		if d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "mail.read", Attributes: map[string]any{"AMOUNT": "any"}}); err != nil || !d.Allowed() {
			t.Fatalf("got %v, %v; want Allow", d.Effect, err)
		}
	})
}
