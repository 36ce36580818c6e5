package browser

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/chromedp/chromedp"
)

// Enter in a text field of a form submits it with the form's first
// submit button, and on an approval card that was Approve: a person
// typing a note ("wrong amount, denying") and pressing Enter, or setting
// how many more requests to remember, approved the request. Enter in a
// card's fields submits nothing; only a button decides.
func TestAttackBrowserEnterDoesNotApprove(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string // CSS selector inside the card
		keys  string
		open  bool // open "Remember this approval" first
	}{
		{"note", `input[name="note"]`, "wrong amount, denying\r", false},
		{"remember uses", `input[name="remember_uses"]`, "3\r", true},
		{"remember resources", `input[name="remember_resources"]`, "acct/*\r", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tb := newTab(t)
			tb.signIn(t, e, "carol")
			a, _ := e.check(e.keys["bot"], "payments.charge", "acct/1", map[string]any{"amount": 100})
			card := `article[id="` + a.ApprovalID + `"]`
			tb.run(t, "the card appears", chromedp.WaitVisible(chromedp.CSS(card+` button.approve`)))
			if tc.open {
				tb.run(t, "open remember", chromedp.Click(chromedp.CSS(card+` details.remember summary`)))
			}
			tb.run(t, "type and press Enter",
				chromedp.SendKeys(chromedp.CSS(card+` `+tc.field), tc.keys),
				chromedp.Sleep(800*time.Millisecond))
			got, err := e.client().Approval(context.Background(), a.ApprovalID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == agenttrust.ApprovalApproved {
				tb.screenshot(t, "approved-by-enter")
				t.Errorf("Enter in the %s field approved the request", tc.name)
			}
		})
	}
}
