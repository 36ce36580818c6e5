package agenttrust_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackGrantOutlivesShortenedRememberFor: a rule's remember_for
// bounds every grant of the rule. A grant remembered for 1h under
// "remember_for: 1h" must stop allowing once the rule, changed to a
// shorter remember_for, no longer covers its age: an operator who
// shortens the window after an incident must not find month-old grants
// still allowing. A longer remember_for never lengthens a grant.
func TestAttackGrantOutlivesShortenedRememberFor(t *testing.T) {
	rule := func(rememberFor string) string {
		return fmt.Sprintf(`
rules:
  - id: money
    effect: needs_approval
    tools: [payments.charge]
    reason: money moves
    approvers: [alice, bob]
    remember_uses: 5
    remember_for: %s
`, rememberFor)
	}
	for _, tc := range []struct {
		rememberFor string        // the rule's, after the change
		after       time.Duration // the grant's age at the check
		allowed     bool
	}{
		{"1h", 30 * time.Minute, true},    // unchanged (control)
		{"10m", 5 * time.Minute, true},    // shortened, still within
		{"10m", 10*time.Minute - 1, true}, // the last instant within
		{"10m", 10 * time.Minute, false},  // at the shortened bound
		{"10m", 30 * time.Minute, false},  // past it
		{"1s", 2 * time.Second, false},    // past it
		{"30m", 59 * time.Minute, false},  // past it, within the grant's own hour
		{"2h", time.Hour, false},          // lengthened: the grant's own hour holds
		{"720h", 90 * time.Minute, false}, // lengthened: the grant's own hour holds
	} {
		t.Run(fmt.Sprintf("remember_for %s after %v", tc.rememberFor, tc.after), func(t *testing.T) {
			d, g := grantUnderChangedRule(t, rule(tc.rememberFor), tc.after)
			if d.Allowed() != tc.allowed {
				t.Fatalf("grant %s (for 1h) %v old under remember_for %s allows: %v, want %v: %+v",
					g.ID, tc.after, tc.rememberFor, d.Allowed(), tc.allowed, d)
			}
			if !tc.allowed && d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("want needs_approval, got %v", d.Effect)
			}
		})
	}
}
