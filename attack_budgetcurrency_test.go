package agenttrust_test

import (
	"testing"

	"github.com/agenttrust/agenttrust"
)

// A budget in another currency that covers other tools is no budget of
// the request's currency: a request in that currency for a tool it does
// not cover must not pass over the budget it would spend otherwise. Else
// adding a narrow budget (EUR for refunds only) opens every other tool to
// unbudgeted spending in EUR, on a key or on a delegated hop.
func TestAttackBudgetCurrencyOtherTools(t *testing.T) {
	eur := map[string]any{"amount": 1000, "currency": "EUR"}
	for name, tc := range map[string]struct {
		key, hop []string
		spender  string // "key" or "hop": the node named by the refusal
		budget   string
	}{
		"key, EUR for refunds only": {
			key:     []string{"budget attr.amount <= 50 USD", "budget attr.amount <= 10 EUR tools refunds.*"},
			spender: "key", budget: "attr.amount USD",
		},
		"key, both tool scoped": {
			key:     []string{"budget attr.amount <= 50 USD tools payments.*", "budget attr.amount <= 10 EUR tools refunds.*"},
			spender: "key", budget: "attr.amount USD tools payments.*",
		},
		"hop, EUR for refunds only": {
			key:     []string{"budget attr.amount <= 50 USD", "budget attr.amount <= 5000 EUR"},
			hop:     []string{"budget attr.amount <= 5 USD", "budget attr.amount <= 1 EUR tools refunds.*"},
			spender: "hop", budget: "attr.amount USD",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, budgetPolicy)
			secret, keyID := budgetKey(t, f, tc.key...)
			cred, node := secret, keyID
			if tc.hop != nil {
				tok, err := f.c.Exchange(t.Context(), secret)
				must.NoError(t, err)
				cred, _, err = f.c.Delegate(t.Context(), tok, 0, tc.hop...)
				must.NoError(t, err)
				node = lastHop(t, cred)
			}
			d, err := check(t, f, cred, "payments.charge", eur)
			must.ErrorIs(t, err, agenttrust.ErrUnevaluable)
			must.Equal(t, agenttrust.Deny, d.Effect, "decision %+v", d)
			must.Equal(t, "budget:"+node+"/"+tc.budget, d.Rule, "decision %+v", d)
		})
	}
}
