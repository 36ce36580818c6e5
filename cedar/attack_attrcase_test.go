package cedar_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	"github.com/agenttrust/agenttrust/store/memory"
)

// caseVariants are request attribute names that differ from a policy's
// attribute name only in case: a tool that decodes its arguments into a
// struct (encoding/json matches field names case-insensitively) reads
// each as the policy's attribute.
var caseVariants = []struct{ attr, key string }{
	{"amount", "AMOUNT"},
	{"amount", "Amount"},
	{"amount", "aMoUnT"},
	{"AMOUNT", "amount"},    // the policy's name is the one not in lower case
	{"risk", "ris\u212a"},   // Kelvin sign, folded onto k (not NFC: refused before the fix too)
	{"cost", "co\u017ft"},   // long s, folded onto s
	{"limit", "l\u0131mit"}, // dotless i, folded onto i by the middleware's check
}

// TestAttackAttributeCase: an attribute sent only under a name that
// differs in case from one a policy reads is not a missing attribute.
// Cedar's "context.attr has amount" is false on {"AMOUNT": 9999}, so a
// forbid or needs-approval policy guarded the usual Cedar way is skipped
// and a permit allows, while the tool runs with 9999. The engine denies
// the whole check with a *cedar.RequestError (agenttrust.ErrInvalidRequest),
// at the top level and in nested records, through Evaluate and through
// Client.Check. A forbid reading the attribute without has already
// failed closed and still does. The exact spelling decides as before, and
// names no policy reads pass in any case.
func TestAttackAttributeCase(t *testing.T) {
	ctx := context.Background()
	// Each policy set guards payments.send by the attribute NAME
	// (PATH.NAME, PATH being context.attr or a nested record), and holds
	// a permit for the action. over: the decision when NAME is above
	// 5000; under: when it is 1 or absent.
	type outcome struct {
		effect agenttrust.Effect
		rule   string
		err    error // matched with errors.Is; nil: no error
	}
	policies := []struct {
		name, src    string
		over, under  outcome
		missingUnder bool // an absent NAME decides as under; else it is unevaluable
	}{
		{"forbid guarded with has", `
@id("cap") forbid (principal, action == Action::"payments.send", resource) when { PATH has NAME && PATH.NAME > 5000 };
@id("pay") permit (principal, action == Action::"payments.send", resource);`,
			outcome{agenttrust.Deny, "cap", nil}, outcome{agenttrust.Allow, "pay", nil}, true},
		{"forbid without has", `
@id("cap") forbid (principal, action == Action::"payments.send", resource) when { PATH.NAME > 5000 };
@id("pay") permit (principal, action == Action::"payments.send", resource);`,
			outcome{agenttrust.Deny, "cap", nil}, outcome{agenttrust.Allow, "pay", nil}, false},
		{"needs approval guarded with has", `
@id("big") @effect("needs_approval") permit (principal, action == Action::"payments.send", resource) when { PATH has NAME && PATH.NAME > 5000 };
@id("pay") permit (principal, action == Action::"payments.send", resource);`,
			outcome{agenttrust.NeedsApproval, "big", nil}, outcome{agenttrust.Allow, "pay", nil}, true},
		{"permit unless guarded with has", `
@id("pay") permit (principal, action == Action::"payments.send", resource) unless { PATH has NAME && PATH.NAME > 5000 };`,
			outcome{agenttrust.Deny, "", nil}, outcome{agenttrust.Allow, "pay", nil}, true},
	}
	nests := []struct {
		name, path string
		wrap       func(map[string]any) map[string]any
	}{
		{"top", "context.attr", func(m map[string]any) map[string]any { return m }},
		{"nested", "context.attr.order", func(m map[string]any) map[string]any {
			return map[string]any{"order": m}
		}},
	}
	evaluate := func(e *cedar.Engine, attrs map[string]any) (agenttrust.PolicyResult, error) {
		in := agenttrust.PolicyInput{Tenant: "acme", AgentID: "payer", Tool: "payments.send", Attributes: attrs}
		return e.Evaluate(ctx, &in)
	}
	check := func(t *testing.T, e *cedar.Engine, attrs map[string]any, want outcome) {
		t.Helper()
		res, err := evaluate(e, attrs)
		if res.Effect != want.effect || res.Rule != want.rule || want.err == nil && err != nil || want.err != nil && !errors.Is(err, want.err) {
			t.Errorf("Evaluate %v: %v %q (%v); want %v %q (%v)", attrs, res.Effect, res.Rule, err, want.effect, want.rule, want.err)
		}
	}
	// refused: the check fails closed, a deny with an error matching
	// agenttrust.ErrInvalidRequest (a *cedar.RequestError for the case
	// variant; a forbid without has already denied with an *EvalError
	// for the attribute it misses).
	refused := func(t *testing.T, e *cedar.Engine, attrs map[string]any) {
		t.Helper()
		res, err := evaluate(e, attrs)
		if res.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
			t.Errorf("Evaluate %v: %v %q (%v); want a deny with an error matching ErrInvalidRequest", attrs, res.Effect, res.Rule, err)
		}
	}
	for _, p := range policies {
		for _, n := range nests {
			for _, v := range caseVariants {
				src := strings.NewReplacer("PATH", n.path, "NAME", v.attr).Replace(p.src)
				e, err := cedar.Parse("p.cedar", []byte(src))
				if err != nil {
					t.Fatalf("%s: %v", src, err)
				}
				prefix := p.name + "/" + n.name + "/" + v.attr + "/"
				for _, amount := range []struct {
					name string
					v    any
				}{{"9999", 9999}, {"json9999", json.Number("9999")}, {"1", 1}} {
					t.Run(prefix+v.key+"="+amount.name+"/alone", func(t *testing.T) {
						refused(t, e, n.wrap(map[string]any{v.key: amount.v}))
					})
					// Beside the exact name, as a caller of Evaluate
					// other than Check may send it, or in a record.
					t.Run(prefix+v.key+"="+amount.name+"/beside", func(t *testing.T) {
						refused(t, e, n.wrap(map[string]any{v.attr: 1, v.key: amount.v}))
					})
				}
				t.Run(prefix+v.key+"/exact", func(t *testing.T) {
					check(t, e, n.wrap(map[string]any{v.attr: 9999}), p.over)
					check(t, e, n.wrap(map[string]any{v.attr: json.Number("1")}), p.under)
					// A name no policy reads passes in any case.
					check(t, e, n.wrap(map[string]any{v.attr: 1, strings.ToUpper(v.attr) + "_NOTE": "x"}), p.under)
					missing := p.under
					if !p.missingUnder {
						missing = outcome{agenttrust.Deny, "cap", agenttrust.ErrUnevaluable}
					}
					check(t, e, n.wrap(map[string]any{"other": 9999}), missing)
				})
			}
		}
	}

	// The same through Client.Check with WithPolicyEngine: the case
	// variant is denied with ErrInvalidRequest, the exact name forbidden.
	e, err := cedar.Parse("p.cedar", []byte(`
@id("cap") forbid (principal, action == Action::"payments.send", resource) when { context.attr has amount && context.attr.amount > 5000 };
@id("pay") permit (principal, action == Action::"payments.send", resource);`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(e))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		attrs map[string]any
		want  agenttrust.Effect
		rule  string
		err   error
	}{
		{map[string]any{"AMOUNT": json.Number("9999")}, agenttrust.Deny, "", agenttrust.ErrInvalidRequest},
		{map[string]any{"amount": json.Number("9999")}, agenttrust.Deny, "cap", nil},
		{map[string]any{"amount": json.Number("1"), "NOTE": "x"}, agenttrust.Allow, "pay", nil},
	} {
		t.Run("Check/"+jsonText(tc.attrs), func(t *testing.T) {
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.send", Attributes: tc.attrs})
			if d.Effect != tc.want || d.Rule != tc.rule || tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("%v %q (%v); want %v %q (%v)", d.Effect, d.Rule, err, tc.want, tc.rule, tc.err)
			}
		})
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCaseVariantPolicyForms: the engine finds the attribute names its
// policies read in every form Cedar writes them (access, index, has with
// a name, a string or a path, nested, in a record literal, under if,
// unless or a method call), and refuses a request naming one in another
// case with a *cedar.RequestError naming the request's path. It does not
// refuse names no policy reads, nor the context's own fields (tool,
// attr), which request attributes never reach.
func TestCaseVariantPolicyForms(t *testing.T) {
	for _, tc := range []struct{ name, cond string }{
		{"access", `when { context.attr.amount > 1 }`},
		{"index", `when { context.attr["amount"] > 1 }`},
		{"has", `when { context.attr has amount }`},
		{"has string", `when { context.attr has "amount" }`},
		{"has path", `when { context.attr has order.amount }`},
		{"nested access", `when { context.attr.order.amount > 1 }`},
		{"record literal", `when { context.attr.order == {"amount": 1} }`},
		{"if", `when { if context.tool like "x" then true else context.attr.amount > 1 }`},
		{"method argument", `when { context.attr.price.lessThan(context.attr.amount) }`},
		{"unless", `unless { context.attr has amount }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("", []byte(`@id("f") forbid (principal, action, resource) `+tc.cond+`;
@id("p") permit (principal, action, resource);`))
			if err != nil {
				t.Fatal(err)
			}
			for _, attrs := range []map[string]any{
				{"AMOUNT": 9999},
				{"order": map[string]any{"Amount": 9999}},
				{"list": []any{map[string]any{"amount": 1, "AMOUNT": 9999}}},
			} {
				in := agenttrust.PolicyInput{AgentID: "a", Tool: "t", Attributes: attrs}
				res, err := e.Evaluate(context.Background(), &in)
				var re *cedar.RequestError
				if res.Effect != agenttrust.Deny || !errors.As(err, &re) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
					t.Fatalf("%v: %+v, %v; want a deny with a *RequestError", attrs, res, err)
				}
				if !strings.HasPrefix(re.Field, "attr.") || !strings.Contains(strings.ToLower(re.Field), "amount") || strings.Contains(err.Error(), "9999") {
					t.Errorf("error %q (field %q): want the request's path, not its value", err, re.Field)
				}
			}
			// The context's own fields and names no policy reads, in
			// any case, are attributes like others.
			in := agenttrust.PolicyInput{AgentID: "a", Tool: "t", Attributes: map[string]any{"TOOL": "x", "Attr": 1, "NOTE": 2, "amounts": 3}}
			var re *cedar.RequestError
			if _, err := e.Evaluate(context.Background(), &in); errors.As(err, &re) {
				t.Errorf("names no policy reads: %v", err)
			}
		})
	}
}
