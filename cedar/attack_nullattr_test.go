package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackNullAttributeDodgesForbid: Cedar has no null, and the engine
// left a null attribute out, as if absent. So {"role": null} made
// "context.attr has role" false and skipped a forbid or needs-approval
// policy guarded the usual Cedar way, while the tool still got role:
// null, which a JSON merge patch (RFC 7396) reads as "delete the role".
// The rule engine calls a null unknown (SECURITY.md section 4), and its
// deny rule on the attribute denies the same request. A null under a name
// a policy reads (at any depth, as the case-variant check finds them) is
// now refused, a *cedar.RequestError matching
// agenttrust.ErrInvalidRequest, with a deny; names no policy reads may
// still be null.
func TestAttackNullAttributeDodgesForbid(t *testing.T) {
	ctx := context.Background()
	policies := map[string]string{
		"forbid has": `
@id("stop") forbid (principal, action == Action::"users.update", resource) when { context.attr has role };
@id("all") permit (principal, action, resource);`,
		"forbid guarded": `
@id("stop") forbid (principal, action == Action::"users.update", resource) when { context.attr has role && context.attr.role like "*" };
@id("all") permit (principal, action, resource);`,
		"needs approval guarded": `
@id("stop") @effect("needs_approval") permit (principal, action == Action::"users.update", resource) when { context.attr has role };
@id("all") permit (principal, action, resource);`,
		"permit unless": `
@id("all") permit (principal, action, resource) unless { context.attr has role };`,
		"nested": `
@id("stop") forbid (principal, action == Action::"users.update", resource) when { context.attr has patch && context.attr.patch has role };
@id("all") permit (principal, action, resource);`,
	}
	for _, tc := range []struct {
		policy string
		attrs  map[string]any
		refuse bool // else: allowed by "all"
	}{
		{"forbid has", map[string]any{"role": nil}, true},
		{"forbid guarded", map[string]any{"role": nil}, true},
		{"needs approval guarded", map[string]any{"role": nil}, true},
		{"permit unless", map[string]any{"role": nil}, true},
		{"nested", map[string]any{"patch": map[string]any{"role": nil}}, true},
		{"nested", map[string]any{"patch": map[string]any{"name": "x", "role": nil}}, true},
		{"nested", map[string]any{"patch": []any{map[string]any{"role": nil}}}, true},
		// controls: a case variant was already refused; a null no
		// policy reads is left out; without role the permit allows.
		{"forbid has", map[string]any{"ROLE": nil}, true},
		{"forbid has", map[string]any{"note": nil}, false},
		{"forbid guarded", map[string]any{}, false},
		{"nested", map[string]any{"patch": map[string]any{"name": nil}}, false},
	} {
		t.Run(tc.policy+"/"+jsonText(tc.attrs), func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(policies[tc.policy]))
			if err != nil {
				t.Fatal(err)
			}
			in := agenttrust.PolicyInput{Tenant: "acme", AgentID: "bot", Tool: "users.update", Resource: "user:alice", Attributes: tc.attrs}
			res, err := e.Evaluate(ctx, &in)
			var re *cedar.RequestError
			if tc.refuse {
				if res.Effect != agenttrust.Deny || !errors.As(err, &re) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
					t.Errorf("Evaluate: %v by %q (%v); want a deny with a *cedar.RequestError", res.Effect, res.Rule, err)
				}
			} else if res.Effect != agenttrust.Allow || res.Rule != "all" || err != nil {
				t.Errorf("Evaluate: %v by %q (%v); want an allow by all", res.Effect, res.Rule, err)
			}
		})
	}

	// The rule engine's deny rule on the attribute denies the null; so
	// does Check with the Cedar engine.
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: stop
    effect: deny
    tools: [users.update]
    when: ['attr.role in *']
  - id: all
    effect: allow
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := cedar.Parse("p.cedar", []byte(policies["forbid has"]))
	if err != nil {
		t.Fatal(err)
	}
	for name, opt := range map[string]agenttrust.Option{"rules": agenttrust.WithPolicy(p), "cedar": agenttrust.WithPolicyEngine(e)} {
		t.Run("Check/"+name, func(t *testing.T) {
			c, err := agenttrust.New(memory.New(), opt)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "users.update", Resource: "user:alice", Attributes: map[string]any{"role": nil}})
			if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("Check: %v by %q (%v); want a deny with an error matching ErrInvalidRequest", d.Effect, d.Rule, err)
			}
		})
	}
}
