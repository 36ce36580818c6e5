package console_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The approvals page asks the API for the pending approvals, oldest
// first, at most 500; the store lists an approval that lapsed undecided
// as pending for ever. An agent that lets 500 approvals lapse (100 at a
// time, its cap, or a few agents at once) filled every place in that
// list with cards the page then drops as lapsed: no approval asked for
// later was ever shown again, so no person could approve it.
func TestAttackConsoleLapsedApprovalsHideLive(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lapsed int // approvals let lapse before the live one is asked
	}{
		{"none lapsed", 0},
		{"one lapsed", 1},
		{"a page of lapsed", 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			for i := 0; i < tc.lapsed; i++ {
				agent := []string{"bot", "bot2"}[i%2]
				e.pending(agent, "payments.charge", fmt.Sprintf("acct/%d", i), nil)
				if (i+1)%200 == 0 || i+1 == tc.lapsed {
					e.clock.Advance(16 * time.Minute) // past the 15 minutes an approval waits
				}
			}
			live := e.pending("bot", "payments.charge", "acct/live", nil)
			b := e.browser()
			b.signIn("carol")
			body := b.do("GET", "/ui/approvals", nil).body
			if !strings.Contains(body, `id="`+live+`"`) {
				t.Fatalf("the approvals page does not show approval %s, asked after %d lapsed", live, tc.lapsed)
			}
		})
	}
}
