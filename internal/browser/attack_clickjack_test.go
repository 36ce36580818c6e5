package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/chromedp/chromedp"
)

// frame-ancestors 'none' keeps the console out of another site's frames,
// but not out of its windows: a page asks the person to double-click,
// and as the first click lands it brings the console's approvals page
// under the pointer (it navigates its opener there, a pop-up closing on
// top), so the second click, a fraction of a second later, lands on
// Approve of the card the agent put first, never read. A click on
// Approve counts only once the page has been in front, with the focus,
// for a moment; a person who reads the card first approves as before.
func TestAttackBrowserApproveClickedAsPageAppears(t *testing.T) {
	for _, tc := range []struct {
		name    string
		read    time.Duration // how long the page is in front before the click
		approve bool
	}{
		{"click as the page appears", 0, false},
		{"click after reading the card", 1500 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			a, _ := e.check(e.keys["evil"], "payments.charge", "acct/9", map[string]any{"amount": 999})
			// "localhost" is another site than "127.0.0.1".
			evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, `<!doctype html><button id="go" style="width:100%%;height:600px">Double-click to continue</button>
<script>document.getElementById('go').addEventListener('mousedown', function () { location.href = %q; });</script>`,
					e.ts.URL+"/ui/approvals")
			}))
			defer evil.Close()
			tb := newTab(t)
			tb.signIn(t, e, "carol")
			approve := `article[id="` + a.ApprovalID + `"] button.approve`
			tb.run(t, "the other site's page", chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)),
				chromedp.WaitVisible(chromedp.CSS(`#go`)))
			// The first click of the double-click: the console comes up.
			tb.run(t, "first click", chromedp.Click(chromedp.CSS(`#go`)), chromedp.WaitVisible(chromedp.CSS(approve)))
			xy, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]float64](`(() => {
				const r = document.querySelector('`+approve+`').getBoundingClientRect();
				return [r.x + r.width / 2, r.y + r.height / 2];
			})()`))
			if err != nil || len(xy) != 2 {
				t.Fatalf("locate Approve: %v %v", xy, err)
			}
			tb.run(t, "second click", chromedp.Sleep(tc.read), chromedp.MouseClickXY(xy[0], xy[1]), chromedp.Sleep(800*time.Millisecond))
			got, err := e.client().Approval(context.Background(), a.ApprovalID)
			if err != nil {
				t.Fatal(err)
			}
			if approved := got.Status == agenttrust.ApprovalApproved; approved != tc.approve {
				tb.screenshot(t, "after-click")
				t.Errorf("approved %v after a click %v after the page appeared, want %v", approved, tc.read, tc.approve)
			}
		})
	}
}
