package remote_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/server"
)

// TestAttackForwardedAddr: a service that guards its routes with
// middleware.HTTP, or verifies bearers with Authenticate, through a
// remote client tells the server its caller's address. The server judges
// a credential's IP allowlist by that address when it trusts the service
// as a proxy, and when it does not, refuses an allowlisted credential
// rather than judge it by the service's own address: a key allowlisted to
// the service's host is not accepted from anywhere. A key without an
// allowlist works either way.
func TestAttackForwardedAddr(t *testing.T) {
	for _, trust := range []struct {
		name string
		opts []server.Option
	}{
		{"trusted", []server.Option{server.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8"))}},
		{"untrusted", nil},
	} {
		d := deployOn(t, true, nil, trust.opts...)
		ctx := t.Context()
		acme, err := d.srv.Client(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		// The service is the remote client (whose own key has no
		// allowlist) on the loopback, the address the stolen key is
		// allowlisted to.
		pinned, _, err := acme.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", AllowedIPs: []string{"127.0.0.1/32"}})
		if err != nil {
			t.Fatal(err)
		}
		open, _, err := acme.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
		if err != nil {
			t.Fatal(err)
		}
		service := d.client(t, "bot")
		action := func(*http.Request) (string, string, bool) { return "docs.read", "doc:1", true }
		for _, tc := range []struct {
			name    string
			key     string
			from    string
			allowed bool // when the service is trusted; never otherwise unless open
		}{
			{"allowlisted key from another address", pinned, "203.0.113.9", false},
			{"allowlisted key from its address", pinned, "127.0.0.1", true},
			{"key without allowlist", open, "203.0.113.9", true},
		} {
			want := tc.allowed && (trust.opts != nil || tc.key == open)
			from := netip.MustParseAddr(tc.from)
			t.Run(trust.name+"/"+tc.name+"/middleware.HTTP", func(t *testing.T) {
				ran := false
				h := middleware.HTTP(service, middleware.Options{Action: action})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
				req := httptest.NewRequest(http.MethodGet, "/docs/1", nil)
				req.RemoteAddr = tc.from + ":40000"
				req.Header.Set("Authorization", "Bearer "+tc.key)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if ran != want || !want && (rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "address not allowed")) {
					t.Errorf("served %v with %d %s; want served %v, else 403 address not allowed", ran, rec.Code, rec.Body, want)
				}
			})
			t.Run(trust.name+"/"+tc.name+"/Check", func(t *testing.T) {
				dec, err := service.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: tc.key, RemoteAddr: from})
				if want && (err != nil || !dec.Allowed()) || !want && (dec.Allowed() || !errors.Is(err, errs.IPNotAllowed)) {
					t.Errorf("Check = %+v, %v; want allowed %v, else ip_not_allowed", dec, err, want)
				}
			})
			t.Run(trust.name+"/"+tc.name+"/Authenticate", func(t *testing.T) {
				p, err := service.Authenticate(ctx, tc.key, from)
				if want && (err != nil || p.AgentID != "bot") || !want && (p.AgentID != "" || !errors.Is(err, errs.IPNotAllowed)) {
					t.Errorf("Authenticate = %+v, %v; want accepted %v, else ip_not_allowed", p, err, want)
				}
			})
		}
	}
}
