package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/remote"
)

func TestAuthenticate(t *testing.T) {
	d := deploy(t)
	ctx := context.Background()
	// The MCP server's own client: a credential of its own, which
	// Authenticate never verifies in place of the one it is given.
	front := d.client(t, "alice")
	botTok, err := d.client(t, "bot").Exchange(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	narrowAdmin, err := front.Exchange(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if narrowAdmin, err = agenttrust.Attenuate(narrowAdmin, "tool in docs.read"); err != nil {
		t.Fatal(err)
	}
	mailJWT, err := d.client(t, "bot").ExchangeJWT(ctx, "", "https://mail.example")
	if err != nil {
		t.Fatal(err)
	}
	forged := botTok[:len(botTok)-4] + "AAAA"
	if forged == botTok {
		forged = botTok[:len(botTok)-4] + "BBBB"
	}
	if err := front.Revoke(ctx, d.ids["carol"]); err != nil {
		t.Fatal(err)
	}
	// An address the server does not trust this client to report: the
	// allowlist is judged by no address, not by the client's own.
	pinned, _, err := front.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{"agent"}, AllowedIPs: []string{"192.0.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := front.Authenticate(ctx, pinned, netip.MustParseAddr("192.0.2.7")); !errors.Is(err, errs.IPNotAllowed) {
		t.Errorf("X-Forwarded-For believed from an untrusted client: %+v, %v", p, err)
	}
	for _, tc := range []struct {
		name    string
		cred    string
		agent   string
		roles   []string
		caveats int
		err     error
	}{
		{"agent key", d.keys["bot"], "bot", []string{"agent"}, 0, nil},
		{"admin key", d.keys["alice"], "alice", []string{"admin"}, 0, nil},
		{"token", botTok, "bot", []string{"agent"}, 0, nil},
		{"narrowed admin token", narrowAdmin, "alice", []string{"agent"}, 1, nil},
		{"revoked key", d.keys["carol"], "", nil, 0, agenttrust.ErrRevoked},
		{"forged token", forged, "", nil, 0, agenttrust.ErrUnauthorized},
		{"JWT for an audience the server does not accept", mailJWT, "", nil, 0, errs.Audience},
		{"empty", "", "", nil, 0, agenttrust.ErrMalformedCredential},
		{"header injection", d.keys["bot"] + "\r\nX-Evil: 1", "", nil, 0, agenttrust.ErrMalformedCredential},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := front.Authenticate(ctx, tc.cred, netip.Addr{})
			if tc.err != nil {
				if !errors.Is(err, tc.err) || p.AgentID != "" {
					t.Fatalf("Authenticate = %+v, %v; want %v", p, err, tc.err)
				}
				return
			}
			if err != nil || p.AgentID != tc.agent || p.Tenant != "acme" || !slices.Equal(p.Roles, tc.roles) || len(p.Caveats) != tc.caveats {
				t.Fatalf("Authenticate = %+v, %v", p, err)
			}
		})
	}
}

// TestAuthenticateDistrustsServer: an answer that names no one, or gives
// a narrowed credential more than the agent role, is not believed; the
// caller's address travels as X-Forwarded-For.
func TestAuthenticateDistrustsServer(t *testing.T) {
	var answer atomic.Value
	var xff atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		xff.Store(r.Header.Get("X-Forwarded-For"))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer.Load())
	}))
	defer ts.Close()
	c, err := remote.New(ts.URL, "atk_unused")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := map[string]any{"tenant": "acme", "agent_id": "bot", "key_id": "key_1", "credential_id": "tok_1",
		"hop_ids": []string{}, "roles": []string{"agent"}, "caveats": []string{}}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name   string
		answer map[string]any
		ok     bool
	}{
		{"well formed", base, true},
		{"no agent", with("agent_id", ""), false},
		{"no tenant", with("tenant", ""), false},
		{"narrowed admin", with("caveats", []string{"tool in x"}), true},
		{"caveats and admin", func() map[string]any {
			m := with("caveats", []string{"tool in x"})
			m["roles"] = []string{"admin"}
			return m
		}(), false},
		{"hop and approver", func() map[string]any {
			m := with("hop_ids", []string{"hop_1"})
			m["roles"] = []string{"agent", "approver"}
			return m
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer.Store(tc.answer)
			addr := netip.MustParseAddr("192.0.2.7")
			p, err := c.Authenticate(context.Background(), "att_x", addr)
			if tc.ok != (err == nil) {
				t.Fatalf("Authenticate = %+v, %v", p, err)
			}
			if !tc.ok && (!errors.Is(err, agenttrust.ErrStoreUnavailable) || p.AgentID != "") {
				t.Fatalf("a disbelieved answer: %+v, %v", p, err)
			}
			if xff.Load() != "192.0.2.7" {
				t.Errorf("X-Forwarded-For %q", xff.Load())
			}
		})
	}
}
