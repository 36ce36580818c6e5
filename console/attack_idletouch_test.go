package console_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/console"
)

// SameSite=Strict sends the cookie with a same-site request, such as an
// image on a page of a sibling subdomain (wiki.example for
// console.example), and every request with a live session counted as
// the person's activity: such a page, left open, kept an unattended
// session alive to its 12 hours whatever --console-idle said. Only a
// request from the console's own pages or the person's own navigation
// (Sec-Fetch-Site same-origin or none, or a client without it) counts.
func TestAttackConsoleIdleNotExtendedFromElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name, site string
		extends    bool
	}{
		{"image on a sibling subdomain", "same-site", false},
		{"cross-site request carrying the cookie", "cross-site", false},
		{"the console's own page", "same-origin", true},
		{"typed in the address bar", "none", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			b := e.browser()
			b.signIn("carol")
			e.clock.Advance(console.DefaultIdleTimeout - time.Minute)
			b.do("GET", "/ui/approvals", nil, "Sec-Fetch-Site", tc.site, "Sec-Fetch-Dest", "image")
			e.clock.Advance(2 * time.Minute)
			p := b.do("GET", "/ui/approvals", nil, "Sec-Fetch-Site", "same-origin")
			if alive := p.status == http.StatusOK; alive != tc.extends {
				t.Errorf("session alive %v after a %s request, want %v", alive, tc.site, tc.extends)
			}
		})
	}
}
