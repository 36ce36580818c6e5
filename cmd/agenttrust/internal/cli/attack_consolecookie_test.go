package cli

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// Behind a TLS-terminating proxy (--public-url https://...), the console
// sees plain HTTP and set its session cookie without Secure and without
// the __Host- prefix. A network attacker who makes the browser request
// http://<console host>/ (a same-origin navigation from a page it
// injects on that http origin) read the cookie in clear and used the
// session over https; over http it could also set the cookie (fixation).
// When the public URL is https, the cookie is Secure and __Host-.
func TestAttackConsoleCookieBehindTLSProxy(t *testing.T) {
	for _, tc := range []struct {
		name, public, host string
		secure             bool
	}{
		{"https public URL, request through the proxy", "https://console.example", "console.example", true},
		{"https public URL, request by another name", "https://console.example", "", true},
		{"no public URL, plain HTTP", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			cfg := &ServeConfig{PublicURL: tc.public, Logger: slog.New(slog.DiscardHandler)}
			srv, err := server.New(st, consoleOption(cfg, st)...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			c, err := srv.Client(context.Background(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			secret, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "alice", Roles: []string{"admin"}})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", ts.URL+"/ui/login", strings.NewReader(url.Values{"key": {secret}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			if tc.host != "" {
				req.Host = tc.host
			}
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cks := resp.Cookies()
			if resp.StatusCode != http.StatusSeeOther || len(cks) != 1 {
				t.Fatalf("sign-in: %d %q", resp.StatusCode, resp.Header.Values("Set-Cookie"))
			}
			ck := cks[0]
			if ck.Secure != tc.secure || strings.HasPrefix(ck.Name, "__Host-") != tc.secure {
				t.Errorf("cookie %q: Secure %v, want %v and the __Host- prefix", resp.Header.Get("Set-Cookie"), ck.Secure, tc.secure)
			}
			// The cookie it set is the one it reads.
			req, _ = http.NewRequest("GET", ts.URL+"/ui/approvals", nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			resp, err = hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("the session's own cookie: %d", resp.StatusCode)
			}
		})
	}
}
