package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A revoke is final, and its confirmation page takes the id from its
// query: a page of a sibling site (the same site, so the browser sends
// the SameSite=Strict cookie with its navigation, query and all) asked
// for a double-click and, as the first click landed, brought up the
// console's confirmation to revoke the admin's own key, so the second
// click landed on "Revoke". Every button that changes state (revoke,
// suspend, resume, deny, approve) counts a click only once the page has
// been in front, with the focus, for a moment.
func TestAttackBrowserRevokeClickedAsPageAppears(t *testing.T) {
	for _, tc := range []struct {
		name   string
		read   time.Duration
		revoke bool
	}{
		{"click as the page appears", 0, false},
		{"click after reading the page", 1500 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			target := e.ts.URL + "/ui/revoke?id=" + e.ids["alice"]
			// Another port of 127.0.0.1: another origin, the same site.
			sibling := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, `<!doctype html><button id="go" style="width:100%%;height:600px">Double-click to continue</button>
<script>document.getElementById('go').addEventListener('mousedown', function () { location.href = %q; });</script>`, target)
			}))
			defer sibling.Close()
			tb := newTab(t)
			tb.signIn(t, e, "alice")
			tb.run(t, "the sibling site's page", chromedp.Navigate(sibling.URL), chromedp.WaitVisible(chromedp.CSS(`#go`)))
			tb.run(t, "first click", chromedp.Click(chromedp.CSS(`#go`)), chromedp.WaitVisible(chromedp.CSS(`#confirm-revoke`)))
			xy, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]float64](`(() => {
				const r = document.querySelector('#confirm-revoke').getBoundingClientRect();
				return [r.x + r.width / 2, r.y + r.height / 2];
			})()`))
			if err != nil || len(xy) != 2 {
				t.Fatalf("locate Revoke: %v %v", xy, err)
			}
			tb.run(t, "second click", chromedp.Sleep(tc.read), chromedp.MouseClickXY(xy[0], xy[1]), chromedp.Sleep(800*time.Millisecond))
			_, err = e.client().Authenticate(context.Background(), e.keys["alice"], netip.MustParseAddr("127.0.0.1"))
			if revoked := err != nil; revoked != tc.revoke {
				tb.screenshot(t, "after-click")
				t.Errorf("the admin's key revoked %v after a click %v after the page appeared, want %v (%v)", revoked, tc.read, tc.revoke, err)
			}
		})
	}
}
