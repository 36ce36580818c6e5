package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackEqualityOtherType: Cedar's == and != compare values of
// different types as unequal, without an error, so a forbid (or a
// needs-approval permit, or a permit's unless) comparing an attribute
// with a literal is skipped when the agent sends the attribute as
// another type: the string "5000" for the Long 5000, a list holding the
// forbidden address for the address, the text "false" for false. A tool
// reading its arguments leniently (a one-or-many recipient field, a
// number or boolean parsed from text) acts on the very value the forbid
// names. The rule engine cannot evaluate attr.amount = 5000 on "5000"
// and denies. The engine now refuses a request whose value at a path a
// policy compares with == or != has another type than the other side.
func TestAttackEqualityOtherType(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	for _, tc := range []struct {
		name, policy string
		attrs        map[string]any
	}{
		{"string for a Long", `@id("stop") forbid (principal, action, resource) when { context.attr.amount == 5000 };` + permit,
			map[string]any{"amount": "5000"}},
		{"list for a string", `@id("stop") forbid (principal, action, resource) when { context.attr.to == "evil@example.com" };` + permit,
			map[string]any{"to": []any{"evil@example.com"}}},
		{"literal on the left", `@id("stop") forbid (principal, action, resource) when { "evil@example.com" == context.attr.to };` + permit,
			map[string]any{"to": []any{"evil@example.com"}}},
		{"string for a boolean", `@id("stop") forbid (principal, action, resource) when { context.attr.dry_run == false };` + permit,
			map[string]any{"dry_run": "false"}},
		{"string for a decimal", `@id("stop") forbid (principal, action, resource) when { context.attr.rate == decimal("0.5") };` + permit,
			map[string]any{"rate": "0.5"}},
		{"nested", `@id("stop") forbid (principal, action, resource) when { context.attr.order.amount == 5000 };` + permit,
			map[string]any{"order": map[string]any{"amount": "5000"}}},
		{"needs approval", `@id("stop") @effect("needs_approval") permit (principal, action, resource) when { context.attr.account == "acct-1" };` + permit,
			map[string]any{"account": []any{"acct-1"}}},
		{"permit unless !=", `@id("all") permit (principal, action, resource) unless { context.attr.env != "dev" };`,
			map[string]any{"env": []any{"prod"}}},
		{"permit unless ==", `@id("all") permit (principal, action, resource) unless { context.attr.env == "prod" };`,
			map[string]any{"env": []any{"prod"}}},
		{"literal set contains", `@id("stop") forbid (principal, action, resource) when { ["acct-1", "acct-2"].contains(context.attr.account) };` + permit,
			map[string]any{"account": []any{"acct-1"}}},
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

// TestEqualityOtherTypeControls: the same policies judge values of the
// compared type as Cedar does, and a value of any type under a name no
// == reads passes.
func TestEqualityOtherTypeControls(t *testing.T) {
	const policy = `
@id("stop") forbid (principal, action, resource) when { context.attr has amount && context.attr.amount == 5000 };
@id("mail") forbid (principal, action, resource) when { context.attr has to && ["evil@example.com"].contains(context.attr.to) };
@id("all") permit (principal, action, resource);`
	e, err := cedar.Parse("p.cedar", []byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		want  agenttrust.Effect
		rule  string
	}{
		{"forbidden amount", map[string]any{"amount": 5000}, deny, "stop"},
		{"other amount", map[string]any{"amount": 4999}, allow, "all"},
		{"forbidden recipient", map[string]any{"to": "evil@example.com"}, deny, "mail"},
		{"other recipient", map[string]any{"to": "ok@example.com"}, allow, "all"},
		{"other names any type", map[string]any{"note": []any{1, "x"}, "n": "5000"}, allow, "all"},
		{"nothing", nil, allow, "all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := req("bot", "t", "r")
			in.Attributes = tc.attrs
			res, err := e.Evaluate(context.Background(), &in)
			if res.Effect != tc.want || res.Rule != tc.rule || err != nil {
				t.Errorf("Evaluate: %v by %q (%v); want %v by %q", res.Effect, res.Rule, err, tc.want, tc.rule)
			}
		})
	}
}

// TestEqualityTwoTypesRefused: an attribute compared with values of two
// types is refused when the policies load, as the rule engine refuses
// it: any value would be unequal to one of them without an error.
func TestEqualityTwoTypesRefused(t *testing.T) {
	_, err := cedar.Parse("p.cedar", []byte(`
@id("a") forbid (principal, action, resource) when { context.attr.amount == 5000 };
@id("b") forbid (principal, action, resource) when { context.attr.amount != "5000" };`))
	var pe *agenttrust.PolicyError
	if !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.Rule != "b" {
		t.Errorf("Parse: %v; want a *agenttrust.PolicyError naming b", err)
	}
}

// TestEqualityOtherTypeOtherTool: a type comparison binds only the
// tools its policy's action scope names, so another tool may send an
// attribute of that name with another type, as the rule engine judges
// only the rules of the tool checked.
func TestEqualityOtherTypeOtherTool(t *testing.T) {
	e, err := cedar.Parse("p.cedar", []byte(`
@id("stop") forbid (principal, action in [Action::"pay", Action::"refund"], resource) when { context.attr.id == 5 };
@id("all") permit (principal, action, resource);`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tool    string
		id      any
		want    agenttrust.Effect
		refused bool
	}{
		{"notes.write", "note-7", allow, false},
		{"pay", "5", deny, true},
		{"refund", []any{5}, deny, true},
		{"pay", 5, deny, false},
		{"pay", 6, allow, false},
	} {
		in := req("bot", tc.tool, "r", "id", tc.id)
		res, err := e.Evaluate(context.Background(), &in)
		var re *cedar.RequestError
		if res.Effect != tc.want || errors.As(err, &re) != tc.refused {
			t.Errorf("%s %#v: %v by %q (%v); want %v, refused %v", tc.tool, tc.id, res.Effect, res.Rule, err, tc.want, tc.refused)
		}
	}
}
