package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackBareEffectAllows: Cedar lets an annotation go without a
// value, which cedar-go reads as "". A policy written @effect permit
// (the value lost to a template or an edit) or @effect("") loaded as a
// plain permit, allowing what its author marked as needing an effect
// other than the default, the only one being needs_approval: the very
// slip the refusal of unknown annotations is there to stop. It is now
// refused when it loads.
func TestAttackBareEffectAllows(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"bare", `@id("big") @effect permit (principal, action, resource) when { context.attr.amount > 100 };`},
		{"empty", `@id("big") @effect("") permit (principal, action, resource) when { context.attr.amount > 100 };`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(tc.src))
			var pe *agenttrust.PolicyError
			if !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.Rule != "big" {
				t.Errorf("Parse: %v; want a *agenttrust.PolicyError naming big", err)
			}
			if e == nil {
				return
			}
			in := req("bot", "pay", "r", "amount", 5000)
			if res, err := e.Evaluate(context.Background(), &in); res.Effect != agenttrust.Deny {
				t.Errorf("Evaluate: %v by %q (%v); want a deny", res.Effect, res.Rule, err)
			}
		})
	}
}
