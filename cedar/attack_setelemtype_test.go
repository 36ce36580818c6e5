package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackSetElementOtherType: contains, containsAny and containsAll
// compare elements with Cedar's ==, which finds values of two types
// unequal without an error. A forbid written
// context.attr.accounts.containsAny([1, 2]) was skipped for the list
// ["1"], and context.attr.to.contains("evil@example.com") for a list of
// recipient objects or nested lists holding it, while a tool reading ids
// from text, or taking {"email": ...} recipients, acts on the forbidden
// one. A request whose set, at a path a policy tests so against
// elements of one type, holds an element of another type is now
// refused with a *RequestError.
func TestAttackSetElementOtherType(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	for _, tc := range []struct {
		name, policy string
		attrs        map[string]any
	}{
		{"containsAny, text for Longs", `@id("stop") forbid (principal, action, resource) when { context.attr.accounts.containsAny([1, 2]) };` + permit,
			map[string]any{"accounts": []any{"1"}}},
		{"containsAny on the right", `@id("stop") forbid (principal, action, resource) when { [1, 2].containsAny(context.attr.accounts) };` + permit,
			map[string]any{"accounts": []any{"2"}}},
		{"containsAll", `@id("stop") forbid (principal, action, resource) when { context.attr.scopes.containsAll(["admin"]) };` + permit,
			map[string]any{"scopes": []any{[]any{"admin"}}}},
		{"contains, a record for a string", `@id("stop") forbid (principal, action, resource) when { context.attr.to.contains("evil@example.com") };` + permit,
			map[string]any{"to": []any{map[string]any{"email": "evil@example.com"}}}},
		{"contains, text for a Long", `@id("stop") forbid (principal, action, resource) when { context.attr.ids.contains(7) };` + permit,
			map[string]any{"ids": []any{"7"}}},
		{"== a literal set", `@id("stop") forbid (principal, action, resource) when { context.attr.ids == [7] };` + permit,
			map[string]any{"ids": []any{"7"}}},
		{"needs approval", `@id("stop") @effect("needs_approval") permit (principal, action, resource) when { context.attr.ids.containsAny([7]) };` + permit,
			map[string]any{"ids": []any{"7", 8}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			in := req("bot", "t", "r")
			in.Attributes = tc.attrs
			res, err := e.Evaluate(context.Background(), &in)
			var re *cedar.RequestError
			if res.Effect != agenttrust.Deny || !errors.As(err, &re) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("Evaluate: %v by %q (%v); want a deny with a *cedar.RequestError", res.Effect, res.Rule, err)
			}
		})
	}
}

// TestSetElementOtherTypeControls: sets of the tested element type are
// judged as Cedar judges them.
func TestSetElementOtherTypeControls(t *testing.T) {
	e, err := cedar.Parse("p.cedar", []byte(`
@id("stop") forbid (principal, action, resource) when { context.attr has ids && context.attr.ids.containsAny([7]) };
@id("all") permit (principal, action, resource);`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ids  any
		want agenttrust.Effect
		rule string
	}{
		{"forbidden", []any{8, 7}, deny, "stop"},
		{"others", []any{8, 9}, allow, "all"},
		{"empty", []any{}, allow, "all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := req("bot", "t", "r", "ids", tc.ids)
			res, err := e.Evaluate(context.Background(), &in)
			if res.Effect != tc.want || res.Rule != tc.rule || err != nil {
				t.Errorf("Evaluate: %v by %q (%v); want %v by %q", res.Effect, res.Rule, err, tc.want, tc.rule)
			}
		})
	}
}
