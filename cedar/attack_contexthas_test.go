package cedar_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackContextHasNeverHolds: the context of agenttrust's Cedar
// requests has fixed fields (tenant, agent, tool, resource, session,
// on_behalf_of, hops, attr, ip, time); the request's attributes are in
// context.attr. Cedar deployments commonly put them in the context
// itself, so a policy ported as written tests context has blocked, which
// is always false here: the forbid (or needs-approval permit) guarded by
// it never held, and a permit unless it always allowed, whatever the
// agent sent. Such a test is now refused when the policy loads (a
// *agenttrust.PolicyError naming it, agenttrust.ErrInvalidPolicy), as a
// has test on an entity is; written on context.attr, it denies.
func TestAttackContextHasNeverHolds(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	for _, tc := range []struct {
		name, policy string
		attrs        map[string]any
		load         bool // a control: the policy loads and denies
	}{
		{"forbid", `@id("stop") forbid (principal, action, resource) when { context has blocked && context.blocked };` + permit,
			map[string]any{"blocked": true}, false},
		{"forbid on an amount", `@id("stop") forbid (principal, action, resource) when { context has amount && context.amount > 5000 };` + permit,
			map[string]any{"amount": 9999}, false},
		{"has a string", `@id("stop") forbid (principal, action, resource) when { context has "risk" };` + permit,
			map[string]any{"risk": "high"}, false},
		{"has a path", `@id("stop") forbid (principal, action, resource) when { context has order.amount };` + permit,
			map[string]any{"order": map[string]any{"amount": 1}}, false},
		{"needs approval", `@id("stop") @effect("needs_approval") permit (principal, action, resource) when { context has amount && context.amount > 100 };` + permit,
			map[string]any{"amount": 9999}, false},
		{"permit unless", `@id("all") permit (principal, action, resource) unless { context has blocked };`,
			map[string]any{"blocked": true}, false},
		// controls
		{"attr", `@id("stop") forbid (principal, action, resource) when { context.attr has blocked && context.attr.blocked };` + permit,
			map[string]any{"blocked": true}, true},
		{"ip", `@id("stop") forbid (principal, action, resource) when { context has ip && context.ip.isLoopback() };` + permit,
			nil, true},
		{"time and attr", `@id("stop") forbid (principal, action, resource) when { context has time && context has attr && context has tool };` + permit,
			nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(tc.policy))
			if !tc.load {
				var pe *agenttrust.PolicyError
				if err == nil || e != nil || !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.Rule == "" {
					t.Errorf("Parse: %v; want a *agenttrust.PolicyError naming the policy", err)
				}
				if e == nil {
					return
				}
			} else if err != nil {
				t.Fatal(err)
			}
			in := agenttrust.PolicyInput{Tenant: "acme", AgentID: "bot", Tool: "t", Resource: "r", Attributes: tc.attrs,
				RemoteAddr: netip.MustParseAddr("127.0.0.1")}
			in.Time = req("a", "t", "r").Time
			res, err := e.Evaluate(context.Background(), &in)
			if res.Effect == agenttrust.Allow {
				t.Errorf("Evaluate: %v by %q (%v); want it not allowed", res.Effect, res.Rule, err)
			}
		})
	}
}
