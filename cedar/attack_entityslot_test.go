package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackEntityInWrongSlot: the principal is always an Agent whose
// only parent is its Tenant, the action an Action and the resource a
// Resource, neither with parents. A policy naming another of the four
// types where one of them stands (principal == Tenant::"globex",
// resource in Tenant::"acme", principal is Tenant, action in
// Tenant::"acme", principal in Resource::"vault") could never hold: a
// forbid on it quietly never denied, and a permit written with != (or
// unless) always allowed, globex's agents included. Such a policy is
// now refused when it loads, with a *agenttrust.PolicyError naming it.
func TestAttackEntityInWrongSlot(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	for _, tc := range []struct{ name, policy string }{
		{"principal == Tenant", `@id("stop") forbid (principal == Tenant::"acme", action, resource);` + permit},
		{"resource in Tenant", `@id("stop") forbid (principal, action, resource in Tenant::"acme");` + permit},
		{"principal is Tenant", `@id("stop") forbid (principal is Tenant, action, resource);` + permit},
		{"principal is Agent in Resource", `@id("stop") forbid (principal is Agent in Resource::"r", action, resource);` + permit},
		{"action == Tenant", `@id("stop") forbid (principal, action == Tenant::"acme", resource);` + permit},
		{"condition: resource in Tenant", `@id("stop") forbid (principal, action, resource) when { resource in Tenant::"acme" };` + permit},
		{"condition: principal in Resource", `@id("stop") forbid (principal, action, resource) when { principal in Resource::"r" };` + permit},
		{"condition: action in a set of Tenants", `@id("stop") forbid (principal, action, resource) when { action in [Tenant::"acme"] };` + permit},
		{"condition: resource is Agent", `@id("stop") forbid (principal, action, resource) when { resource is Agent };` + permit},
		{"permit when !=", `@id("all") permit (principal, action, resource) when { principal != Tenant::"acme" };`},
		{"permit unless ==", `@id("all") permit (principal, action, resource) unless { Tenant::"acme" == principal };`},
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
			in := req("bot", "t", "r") // an agent of acme
			if res, err := e.Evaluate(context.Background(), &in); res.Effect != agenttrust.Deny {
				t.Errorf("Evaluate: %v by %q (%v); want a deny", res.Effect, res.Rule, err)
			}
		})
	}
}

// TestEntitySlotControls: the forms that can hold load and hold.
func TestEntitySlotControls(t *testing.T) {
	for _, src := range []string{
		`forbid (principal in Tenant::"acme", action, resource);`,
		`forbid (principal == Agent::"bot", action, resource);`,
		`forbid (principal in Agent::"bot", action, resource);`,
		`forbid (principal is Agent in Tenant::"acme", action, resource);`,
		`forbid (principal, action in [Action::"t"], resource == Resource::"r");`,
		`forbid (principal, action, resource is Resource in Resource::"r");`,
		`forbid (principal, action, resource) when { principal in Tenant::"acme" && action == Action::"t" && resource in [Resource::"r"] && principal is Agent };`,
	} {
		e, err := cedar.Parse("p.cedar", []byte(src+"\npermit (principal, action, resource);"))
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		in := req("bot", "t", "r")
		if res, err := e.Evaluate(context.Background(), &in); res.Effect != agenttrust.Deny || res.Rule != "policy0" || err != nil {
			t.Errorf("%s: %v by %q (%v); want a deny by policy0", src, res.Effect, res.Rule, err)
		}
	}
}
