package agenttrust_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// attrCaseVariants are request attribute names that differ from a
// policy's attribute only in case: a tool that decodes its arguments into
// a struct (encoding/json matches field names case-insensitively) reads
// each as the policy's attribute.
var attrCaseVariants = []struct{ attr, key string }{
	{"amount", "AMOUNT"},
	{"amount", "Amount"},
	{"amount", "aMoUnT"},
	{"risk", "ris\u212a"},   // Kelvin sign, which encoding/json folds onto k
	{"cost", "co\u017ft"},   // long s, folded onto s
	{"limit", "l\u0131mit"}, // dotless i, folded onto i by the middleware's check
}

// TestAttackAttributeCase: an attribute sent under a name that differs
// only in case is not a missing attribute. "attr.NAME?" cannot be
// evaluated on it, so a deny or needs_approval rule that would decide
// denies naming itself with ErrUnevaluable, an allow rule does not match
// and a caveat does not hold; a declared required attribute is refused.
// The exact spelling behaves as before.
func TestAttackAttributeCase(t *testing.T) {
	ctx := context.Background()
	req := func(attrs map[string]any) agenttrust.Request {
		return agenttrust.Request{AgentID: "payer", Tool: "payments.send", Attributes: attrs}
	}
	mustUnevaluable := func(t *testing.T, d agenttrust.Decision, err error, rule string) {
		t.Helper()
		if !errors.Is(err, agenttrust.ErrUnevaluable) || !errors.Is(err, agenttrust.ErrInvalidRequest) || !strings.Contains(err.Error(), "another case") {
			t.Fatalf("err = %v, want ErrUnevaluable naming the other case", err)
		}
		if d.Effect != agenttrust.Deny || d.Rule != rule || d.ApprovalID != "" {
			t.Fatalf("decision %+v, want a Deny by %q", d, rule)
		}
	}
	for _, effect := range []string{"deny", "needs_approval"} {
		for _, when := range []string{"attr.%s? > 5000", "attr.%s > 5000"} {
			for _, v := range attrCaseVariants {
				cond := strings.ReplaceAll(when, "%s", v.attr)
				f := newFixture(t, "rules:\n  - id: guard\n    effect: "+effect+"\n    tools: [payments.send]\n    when: ['"+cond+"']\n  - id: open\n    effect: allow\n    tools: [payments.send]\n")
				for _, amount := range []any{json.Number("9999"), 9999, json.Number("1")} {
					t.Run(effect+"/"+cond+"/"+v.key+"/"+jsonText(amount), func(t *testing.T) {
						d, err := f.c.Check(ctx, req(map[string]any{v.key: amount}))
						mustUnevaluable(t, d, err, "guard")
					})
				}
				t.Run(effect+"/"+cond+"/exact", func(t *testing.T) {
					d, err := f.c.Check(ctx, req(map[string]any{v.attr: 9999}))
					want := agenttrust.Deny
					if effect == "needs_approval" {
						want = agenttrust.NeedsApproval
					}
					if err != nil && want == agenttrust.Deny || d.Effect != want || d.Rule != "guard" {
						t.Fatalf("over the limit: %+v, %v; want %v by guard", d, err, want)
					}
					if d, err := f.c.Check(ctx, req(map[string]any{v.attr: 1, strings.ToUpper(v.attr) + "_NOTE": "x"})); err != nil || d.Effect != agenttrust.Allow || d.Rule != "open" {
						t.Fatalf("under the limit: %+v, %v; want Allow by open", d, err)
					}
					d, err = f.c.Check(ctx, req(map[string]any{"other": 9999}))
					if strings.Contains(cond, "?") {
						if err != nil || d.Effect != agenttrust.Allow {
							t.Fatalf("missing, declared fine: %+v, %v; want Allow", d, err)
						}
					} else if !errors.Is(err, agenttrust.ErrUnevaluable) || d.Effect != agenttrust.Deny || d.Rule != "guard" {
						t.Fatalf("missing: %+v, %v; want Deny by guard with ErrUnevaluable", d, err)
					}
				})
			}
		}
	}
	for _, v := range attrCaseVariants {
		cond := "attr." + v.attr + "? <= 5000"
		f := newFixture(t, "rules:\n  - id: only-if\n    effect: allow\n    tools: [payments.send]\n    when: ['"+cond+"']\n")
		t.Run("allow/"+cond+"/"+v.key, func(t *testing.T) {
			if d, err := f.c.Check(ctx, req(map[string]any{v.key: 1})); err != nil || d.Effect != agenttrust.Deny || d.Rule != "" {
				t.Fatalf("got %+v, %v; want the default Deny", d, err)
			}
			if d, err := f.c.Check(ctx, req(map[string]any{v.attr: 1})); err != nil || d.Effect != agenttrust.Allow {
				t.Fatalf("exact: %+v, %v; want Allow", d, err)
			}
		})
	}

	// Caveats: "attr.NAME? <= 5" does not hold on a case variant.
	f := newFixture(t, "rules:\n  - id: open\n    effect: allow\n")
	secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "payer"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range attrCaseVariants {
		cav := "attr." + v.attr + "? <= 5"
		narrow, err := agenttrust.Attenuate(tok, cav)
		if err != nil {
			t.Fatal(err)
		}
		for _, amount := range []any{9999, 1} {
			t.Run("caveat/"+cav+"/"+v.key+"/"+jsonText(amount), func(t *testing.T) {
				d, err := f.c.Check(ctx, agenttrust.Request{Tool: "payments.send", Credential: narrow, Attributes: map[string]any{v.key: amount}})
				if !errors.Is(err, agenttrust.ErrCaveat) || !errors.Is(err, agenttrust.ErrUnauthorized) || d.Effect != agenttrust.Deny {
					t.Fatalf("got %+v, %v; want Deny with a caveat error", d, err)
				}
			})
		}
		t.Run("caveat/"+cav+"/exact", func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{Tool: "payments.send", Credential: narrow, Attributes: map[string]any{v.attr: 5}})
			if err != nil || d.Effect != agenttrust.Allow {
				t.Fatalf("got %+v, %v; want Allow", d, err)
			}
		})
	}

	// Declared attributes: a required one present only in another case
	// is refused before any rule; an optional one does not get past a
	// rule that reads it.
	for _, v := range attrCaseVariants {
		f := newFixture(t, "attributes:\n  - {tools: [payments.send], name: "+v.attr+", type: number, required: true}\n  - {tools: [payments.send], name: opt_"+v.attr+", type: number}\nrules:\n  - id: guard\n    effect: deny\n    when: ['attr.opt_"+v.attr+"? > 5000']\n  - id: open\n    effect: allow\n")
		t.Run("declared/required/"+v.key, func(t *testing.T) {
			d, err := f.c.Check(ctx, req(map[string]any{v.key: 9999}))
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || d.Effect != agenttrust.Deny {
				t.Fatalf("got %+v, %v; want Deny with ErrInvalidRequest", d, err)
			}
		})
		t.Run("declared/optional/"+v.key, func(t *testing.T) {
			d, err := f.c.Check(ctx, req(map[string]any{v.attr: 1, "opt_" + v.key: 9999}))
			mustUnevaluable(t, d, err, "guard")
			if d, err := f.c.Check(ctx, req(map[string]any{v.attr: 1})); err != nil || d.Effect != agenttrust.Allow {
				t.Fatalf("exact: %+v, %v; want Allow", d, err)
			}
		})
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAttackAttributeFoldDuplicates: a request may not hold two attributes
// whose names are one name under case folding. A policy reads the exact
// one; a tool decoding into a struct reads whichever comes last in its
// JSON. Check refuses such a request (ErrInvalidRequest and a deny), as
// the middleware refuses such arguments.
func TestAttackAttributeFoldDuplicates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "rules:\n  - id: cap\n    effect: deny\n    tools: [payments.send]\n    when: [\"attr.amount > 5000\"]\n  - id: pay\n    effect: allow\n    tools: [payments.send]\n")
	for _, v := range attrCaseVariants {
		for _, attrs := range []map[string]any{
			{v.attr: 1, v.key: 9999},
			{v.attr: 1, v.key: 9999, "amount": 1, "note": "x"},
		} {
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.send", Attributes: attrs})
			if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("%q and %q together: %v %v; want a deny with ErrInvalidRequest", v.attr, v.key, d.Effect, err)
			}
		}
	}
	many := map[string]any{"amount": 1}
	for i := range 40 {
		many["a"+strings.Repeat("b", i)] = i
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.send", Attributes: many}); err != nil || !d.Allowed() {
		t.Fatalf("control, 41 distinct names: %v %v", d.Effect, err)
	}
	for _, v := range attrCaseVariants {
		m := maps.Clone(many)
		m[v.attr], m[v.key] = 1, 9999
		if d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.send", Attributes: m}); d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
			t.Errorf("41 names, %q and %q: %v %v; want a deny with ErrInvalidRequest", v.attr, v.key, d.Effect, err)
		}
	}
}
