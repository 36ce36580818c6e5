package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestDivergence pins where the two engines differ on the conformance
// policy (the package documentation lists these): each engine's own
// answer, every Cedar one a deny or a non-match, never a wider allow.
func TestDivergence(t *testing.T) {
	builtin, ce := loadBoth(t)
	type outcome struct {
		effect agenttrust.Effect
		rule   string
		err    error // matched with errors.Is; nil: no error
	}
	for _, tc := range []struct {
		name           string
		in             agenttrust.PolicyInput
		builtin, cedar outcome
	}{
		{
			"null attribute a policy reads: the whole request is refused in Cedar, the wrong type for the rule engine",
			req("w", "notes.write", "n", "label", nil),
			outcome{deny, "optional-note", agenttrust.ErrUnevaluable},
			outcome{deny, "", agenttrust.ErrInvalidRequest},
		},
		{
			"null attribute no rule reads: absent in Cedar",
			req("w", "notes.write", "n", "comment", nil),
			outcome{allow, "notes-ok", nil},
			outcome{allow, "notes-ok", nil},
		},
		{
			"fractional amount: a decimal, which < cannot compare with a Long",
			req("billing-bot", "payments.charge", "cust-1", "amount", 40.5, "currency", "EUR"),
			outcome{allow, "small-charges", nil},
			outcome{deny, "big-charges-deny", agenttrust.ErrUnevaluable},
		},
		{
			"string not in NFC: the whole request is refused in Cedar",
			req("w", "notes.write", "n", "label", "se\u0301cret"),
			outcome{deny, "optional-note", agenttrust.ErrUnevaluable},
			outcome{deny, "", agenttrust.ErrInvalidRequest},
		},
		{
			"attribute in another case than a rule reads: the whole request is refused in Cedar",
			req("w", "notes.write", "n", "LABEL", "secret"),
			outcome{deny, "optional-note", agenttrust.ErrUnevaluable},
			outcome{deny, "", agenttrust.ErrInvalidRequest},
		},
		{
			"attribute in another case than a policy for another tool reads",
			req("w", "notes.write", "n", "Amount", 9999),
			outcome{allow, "notes-ok", nil},
			outcome{deny, "", agenttrust.ErrInvalidRequest},
		},
		{
			"string not in NFC in an attribute no rule reads",
			req("w", "notes.write", "n", "comment", "cafe\u0301"),
			outcome{allow, "notes-ok", nil},
			outcome{deny, "", agenttrust.ErrInvalidRequest},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, eng := range []struct {
				name string
				e    agenttrust.PolicyEngine
				want outcome
			}{{"builtin", builtin, tc.builtin}, {"cedar", ce, tc.cedar}} {
				in := tc.in
				res, err := eng.e.Evaluate(context.Background(), &in)
				if res.Effect != eng.want.effect || res.Rule != eng.want.rule {
					t.Errorf("%s: %v %q (%v), want %v %q", eng.name, res.Effect, res.Rule, err, eng.want.effect, eng.want.rule)
				}
				if eng.want.err == nil && err != nil || eng.want.err != nil && !errors.Is(err, eng.want.err) {
					t.Errorf("%s: err %v, want %v", eng.name, err, eng.want.err)
				}
			}
		})
	}
}

// TestDivergenceFirstError: Cedar stops a condition at its first error,
// so a forbid whose first condition errs denies even when a later one is
// false; the rule engine finds the false condition and the rule does not
// match.
func TestDivergenceFirstError(t *testing.T) {
	p := &agenttrust.Policy{Rules: []agenttrust.Rule{
		{ID: "f", Effect: agenttrust.Deny, When: []string{"attr.amount > 10", "attr.kind = refund"}},
		{ID: "p", Effect: agenttrust.Allow},
	}}
	builtin, err := agenttrust.NewRuleEngine(p)
	if err != nil {
		t.Fatal(err)
	}
	ce, err := cedar.Parse("", []byte(`
@id("f") forbid (principal, action, resource) when { context.attr.amount > 10 && context.attr.kind like "refund" };
@id("p") permit (principal, action, resource);`))
	if err != nil {
		t.Fatal(err)
	}
	in := req("a", "t", "r", "kind", "charge") // amount missing, kind false
	b, berr := builtin.Evaluate(context.Background(), &in)
	c, cerr := ce.Evaluate(context.Background(), &in)
	if b.Effect != allow || berr != nil {
		t.Errorf("builtin: %v %v", b, berr)
	}
	if c.Effect != deny || c.Rule != "f" || !errors.Is(cerr, agenttrust.ErrUnevaluable) {
		t.Errorf("cedar: %v %v", c, cerr)
	}
}

// TestDivergenceComparedType: an attribute of another type than a policy
// compares it with (==, contains) denies the whole request here, on the
// tools that policy's scope names; the rule engine cannot evaluate only
// the rule comparing it, so another allow rule may still match there.
func TestDivergenceComparedType(t *testing.T) {
	p := &agenttrust.Policy{Rules: []agenttrust.Rule{
		{ID: "kind", Effect: agenttrust.Allow, Tools: []string{"t"}, When: []string{"attr.kind = a"}},
		{ID: "pos", Effect: agenttrust.Allow, Tools: []string{"t"}, When: []string{"attr.x > 0"}},
	}}
	builtin, err := agenttrust.NewRuleEngine(p)
	if err != nil {
		t.Fatal(err)
	}
	ce, err := cedar.Parse("", []byte(`
@id("kind") permit (principal, action == Action::"t", resource) when { context.attr.kind == "a" };
@id("pos") permit (principal, action == Action::"t", resource) when { context.attr.x > 0 };`))
	if err != nil {
		t.Fatal(err)
	}
	in := req("a", "t", "r", "kind", 5, "x", 1)
	b, berr := builtin.Evaluate(context.Background(), &in)
	c, cerr := ce.Evaluate(context.Background(), &in)
	if b.Effect != allow || b.Rule != "pos" || berr != nil {
		t.Errorf("builtin: %v %v", b, berr)
	}
	if c.Effect != deny || !errors.Is(cerr, agenttrust.ErrInvalidRequest) {
		t.Errorf("cedar: %v %v", c, cerr)
	}
}
