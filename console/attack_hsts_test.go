package console_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/agenttrust/agenttrust/console"
)

// A console reached over TLS said nothing of it to the browser: a person
// who later typed its host name, or followed an http:// link, asked for
// it over plain HTTP first, where an attacker on the network answers with
// a look-alike sign-in page (or strips TLS from the real one) and takes
// the approver or admin key typed in. Every answer a browser gets over
// TLS, directly or through a TLS-terminating proxy (SecureCookies), has
// Strict-Transport-Security, so the browser never asks over HTTP again.
func TestAttackConsoleNoHSTS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls    bool // the request came over TLS to this server
		secure bool // Config.SecureCookies: TLS ends at a proxy in front
		want   bool
	}{
		{"TLS to the server", true, false, true},
		{"TLS to a proxy in front", false, true, true},
		{"plain HTTP", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := console.New(console.Config{API: http.NotFoundHandler(), SecureCookies: tc.secure})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			for _, path := range []string{"/ui/login", "/ui/approvals", "/ui/assets/console.js"} {
				base := "http://console.example"
				if tc.tls {
					base = "https://console.example" // sets r.TLS
				}
				r := httptest.NewRequest("GET", base+path, nil)
				w := httptest.NewRecorder()
				c.ServeHTTP(w, r)
				got := w.Header().Get("Strict-Transport-Security")
				if (got != "") != tc.want {
					t.Errorf("GET %s: Strict-Transport-Security %q, want it %v", path, got, tc.want)
				}
			}
		})
	}
}
