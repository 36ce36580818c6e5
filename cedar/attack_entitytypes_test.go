package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackDeadEntityForbid: agenttrust's requests hold four entity
// types, Agent, Action, Resource and Tenant (an agent's only parent),
// and no entity has attributes or tags. A forbid naming another type
// (a misspelt agent::"rogue", an imported Team::"contractors") or
// guarded by has or hasTag on principal, action or resource can never
// match: the engine loaded it and the catch-all permit allowed the very
// agent, tool or resource it was written to stop, where the misspelt
// annotation it already refuses could not pass. Such a policy is now
// refused when it loads, with a *agenttrust.PolicyError naming it
// (agenttrust.ErrInvalidPolicy); correctly spelt, the forbid denies.
func TestAttackDeadEntityForbid(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	in := agenttrust.PolicyInput{Tenant: "acme", AgentID: "rogue", Tool: "payments.charge", Resource: "secrets"}
	for _, tc := range []struct {
		name, forbid string
		load         bool // a control: the policy loads and denies
	}{
		{"agent type in lower case", `forbid (principal == agent::"rogue", action, resource);`, false},
		{"action type in lower case", `forbid (principal, action == action::"payments.charge", resource);`, false},
		{"tenant type in lower case", `forbid (principal in tenant::"acme", action, resource);`, false},
		{"group of agents", `forbid (principal in Team::"contractors", action, resource);`, false},
		{"namespaced action", `forbid (principal, action in [Action::"mail.send", Payments::Action::"payments.charge"], resource);`, false},
		{"resource of another type", `forbid (principal, action, resource == File::"secrets");`, false},
		{"is another type", `forbid (principal is User, action, resource);`, false},
		{"is in another type", `forbid (principal, action, resource is Folder in Folder::"secrets");`, false},
		{"entity in a condition", `forbid (principal, action, resource) when { principal in Group::"contractors" };`, false},
		{"entity in a set", `forbid (principal, action, resource) when { principal in [Agent::"x", User::"rogue"] };`, false},
		{"is in a condition", `forbid (principal, action, resource) when { resource is Secret };`, false},
		{"principal has", `forbid (principal, action, resource) when { principal has contractor };`, false},
		{"resource has", `forbid (principal, action, resource) when { resource has classification && resource.classification == "secret" };`, false},
		{"action has", `forbid (principal, action, resource) when { action has risky };`, false},
		{"principal hasTag", `forbid (principal, action, resource) when { principal.hasTag("blocked") };`, false},
		// controls
		{"agent", `forbid (principal == Agent::"rogue", action, resource);`, true},
		{"tenant", `forbid (principal in Tenant::"acme", action == Action::"payments.charge", resource);`, true},
		{"resource", `forbid (principal is Agent, action, resource is Resource in Resource::"secrets");`, true},
		{"context has", `forbid (principal, action, resource) when { context has time && context.attr has x || context.tool like "payments.*" };`, true},
		{"record has", `forbid (principal, action, resource) when { {"a": 1} has a };`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(`@id("stop") `+tc.forbid+permit))
			if !tc.load {
				var pe *agenttrust.PolicyError
				if err == nil || e != nil || !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.Rule != "stop" {
					t.Errorf("Parse: %v; want a *agenttrust.PolicyError naming stop", err)
				}
				if e == nil {
					return
				}
			} else if err != nil {
				t.Fatal(err)
			}
			res, err := e.Evaluate(context.Background(), &in)
			if res.Effect != agenttrust.Deny || res.Rule != "stop" {
				t.Errorf("Evaluate: %v by %q (%v); want a deny by stop", res.Effect, res.Rule, err)
			}
		})
	}
}
