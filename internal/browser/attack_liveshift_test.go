package browser

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/chromedp/chromedp"
)

// The approvals page updates live, and an update replaced the whole
// list: a request arriving moved every card down (newest first), one
// decided or expired elsewhere moved the cards below it up. A person who
// aimed at Approve on one card and clicked as the list changed approved
// whichever card had just moved under the pointer, a request never
// read; an agent that asks often makes that likely. A live update moves
// no card that is already shown: new requests go below, a card no longer
// pending stays in place, its buttons disabled.
func TestAttackBrowserLiveUpdateShiftsCards(t *testing.T) {
	for _, tc := range []struct {
		name string
		// before makes the pending approvals and returns the one the
		// person aims at; change alters the list while the person aims.
		before func(e *env) (target string, others []string)
		change func(t *testing.T, e *env, others []string) []string
	}{
		{"a request arrives", func(e *env) (string, []string) {
			a, _ := e.check(e.keys["bot"], "payments.charge", "acct/1", map[string]any{"amount": 100})
			return a.ApprovalID, nil
		}, func(t *testing.T, e *env, _ []string) []string {
			b, _ := e.check(e.keys["evil"], "payments.charge", "acct/9", map[string]any{"amount": 999})
			return []string{b.ApprovalID}
		}},
		{"a card above is decided elsewhere", func(e *env) (string, []string) {
			c, _ := e.check(e.keys["evil"], "payments.charge", "acct/9", map[string]any{"amount": 999})
			time.Sleep(20 * time.Millisecond)
			a, _ := e.check(e.keys["bot"], "payments.charge", "acct/1", map[string]any{"amount": 100})
			time.Sleep(20 * time.Millisecond)
			b, _ := e.check(e.keys["bot2"], "payments.charge", "acct/2", map[string]any{"amount": 200})
			return a.ApprovalID, []string{c.ApprovalID, b.ApprovalID}
		}, func(t *testing.T, e *env, others []string) []string {
			if err := e.client().DenyApproval(context.Background(), others[1], "alice", "no"); err != nil {
				t.Fatal(err)
			}
			return others
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tb := newTab(t)
			tb.signIn(t, e, "carol")
			target, others := tc.before(e)
			tb.run(t, "the cards appear", chromedp.WaitVisible(chromedp.CSS(`article[id="`+target+`"] button.approve`)))
			for _, o := range others {
				tb.run(t, "the cards appear", chromedp.WaitVisible(chromedp.CSS(`article[id="`+o+`"]`)))
			}
			xy, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => {
				const b = document.querySelector('article[id="%s"] button.approve');
				b.scrollIntoView({block: 'nearest'});
				const r = b.getBoundingClientRect();
				return [r.x + r.width / 2, r.y + r.height / 2];
			})()`, target)))
			if err != nil || len(xy) != 2 {
				t.Fatalf("locate Approve: %v %v", xy, err)
			}
			others = tc.change(t, e, others)
			// The person clicks where Approve was, as the list updates.
			tb.run(t, "click", chromedp.Sleep(700*time.Millisecond), chromedp.MouseClickXY(xy[0], xy[1]), chromedp.Sleep(700*time.Millisecond))
			ctx := context.Background()
			if a, err := e.client().Approval(ctx, target); err != nil || a.Status != agenttrust.ApprovalApproved {
				t.Errorf("the click on Approve of %s did not approve it: %v %v", target, a.Status, err)
			}
			for _, o := range others {
				a, err := e.client().Approval(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				if a.Status == agenttrust.ApprovalApproved {
					tb.screenshot(t, "approved-other")
					t.Errorf("aiming at Approve on %s approved %s, a card that moved under the pointer", target, o)
				}
			}
		})
	}
}
