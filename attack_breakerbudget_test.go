package agenttrust_test

import (
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackBreakerBudgetDenials: a check the budget phase denies (the
// budget is spent, or the request's amount cannot be read) is a denial
// to the runaway breaker, as a deny of the rules is. Otherwise an agent
// looping on a spent budget, or probing it with amounts it cannot spend,
// is denied without end and never suspended.
func TestAttackBreakerBudgetDenials(t *testing.T) {
	cases := []struct {
		name   string
		caveat string
		attrs  map[string]any
	}{
		{"budget spent", "budget calls <= 1", nil},
		{"amount unevaluable", "budget attr.amount <= 100", map[string]any{"amount": "lots"}},
		{"amount over budget", "budget attr.amount <= 100", map[string]any{"amount": 500}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, budgetPolicy, agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxDenials: 3, DenialWindow: time.Minute}))
			budgeted, _ := budgetKey(t, f, tc.caveat)
			plain, _ := budgetKey(t, f)
			if tc.attrs == nil {
				mustAllow(t, f, budgeted, "mail.read", nil) // spends the one call
			}
			var d agenttrust.Decision
			for i := range 3 {
				d, _ = check(t, f, budgeted, "mail.read", tc.attrs)
				must.Equal(t, agenttrust.Deny, d.Effect, "probe %d: %+v", i, d)
			}
			must.Equal(t, "agenttrust.breaker", d.Rule, "the third denial trips the breaker: %+v", d)
			// The agent is suspended, whatever key it uses.
			d, err := check(t, f, plain, "mail.read", nil)
			must.NoError(t, err)
			must.Equal(t, agenttrust.Deny, d.Effect, "after 3 budget denials: %+v", d)
			must.Equal(t, "agent suspended", d.Reason)
		})
	}
}
