package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackAttributeComparedWithEntity: a request's attributes are
// never entities (a string is a String, a map a record), so an attribute
// compared with principal, resource or an entity literal is never equal
// to it. A forbid written to stop an agent acting on itself,
// context.attr.target == principal, or on one account,
// context.attr.account == Resource::"acct-1", loaded and quietly never
// denied, as the dead entity types refused before. Such a comparison is
// now refused when the policy loads, with a *agenttrust.PolicyError
// naming it.
func TestAttackAttributeComparedWithEntity(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	for _, tc := range []struct {
		name, policy string
		attrs        map[string]any
	}{
		{"principal", `@id("stop") forbid (principal, action, resource) when { context.attr.target == principal };` + permit,
			map[string]any{"target": "bot"}},
		{"resource on the left", `@id("stop") forbid (principal, action, resource) when { resource == context.attr.target };` + permit,
			map[string]any{"target": "r"}},
		{"entity literal", `@id("stop") forbid (principal, action, resource) when { context.attr.account == Resource::"acct-1" };` + permit,
			map[string]any{"account": "acct-1"}},
		{"set of entities", `@id("stop") forbid (principal, action, resource) when { context.attr.targets.contains(principal) };` + permit,
			map[string]any{"targets": []any{"bot"}}},
		{"permit unless", `@id("all") permit (principal, action, resource) unless { context.attr.target == principal };`,
			map[string]any{"target": "bot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(tc.policy))
			var pe *agenttrust.PolicyError
			if !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.Rule == "" {
				t.Errorf("Parse: %v; want a *agenttrust.PolicyError naming the policy", err)
			}
			if e == nil {
				return
			}
			in := req("bot", "t", "r")
			in.Attributes = tc.attrs
			if res, err := e.Evaluate(context.Background(), &in); res.Effect != agenttrust.Deny {
				t.Errorf("Evaluate: %v by %q (%v); want a deny", res.Effect, res.Rule, err)
			}
		})
	}
}
