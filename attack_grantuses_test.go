package agenttrust_test

import (
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackGrantOutlivesLoweredRememberUses: a rule's remember_uses
// bounds every grant of the rule, as its remember_for does. An operator
// who lowers it after an incident (from 5 to 1) must not find grants
// made under the old bound still holding more uses than the rule now
// allows: such a grant ends, and the request is asked again. A grant
// within the new bound, or a raised bound, changes nothing.
func TestAttackGrantOutlivesLoweredRememberUses(t *testing.T) {
	rule := func(uses int) string {
		return fmt.Sprintf(`
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge]
    reason: money moves
    approvers: [alice, bob]
    remember_uses: %d
    remember_for: 1h
`, uses)
	}
	for _, tc := range []struct {
		uses    int // the rule's remember_uses after the change; the grant holds 5
		allowed bool
	}{
		{5, true},     // unchanged (control)
		{10, true},    // raised (control)
		{4, false},    // lowered below what the grant holds
		{1, false},    // lowered to one
		{100, true},   // raised (control)
		{10000, true}, // the most (control)
	} {
		t.Run(fmt.Sprintf("remember_uses %d", tc.uses), func(t *testing.T) {
			d, g := grantUnderChangedRule(t, rule(tc.uses), 0)
			if d.Allowed() != tc.allowed {
				t.Fatalf("grant %s (5 uses) under remember_uses %d allows: %v, want %v: %+v", g.ID, tc.uses, d.Allowed(), tc.allowed, d)
			}
			if !tc.allowed && d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("want needs_approval, got %v", d.Effect)
			}
		})
	}
}
