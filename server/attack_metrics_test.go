package server

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
)

const scrapeToken = "mtr-Zq8vN3kLx0pR7sT2wY5uA9cE4gJ6hM1b"

// TestAttackMetrics: the metrics scrape token reads /metrics, with the
// store up or down, and is refused everywhere else; no key can be given
// the metrics role; without the token, /metrics wants a system admin or
// approver key, as before.
func TestAttackMetrics(t *testing.T) {
	t.Run("scrape token reads metrics", func(t *testing.T) {
		e, _ := outageEnv(t, WithMetricsToken(scrapeToken))
		r := e.must(200, "GET", "/metrics", scrapeToken, nil)
		if !strings.Contains(string(r.body), "agenttrust_checks_total") {
			t.Errorf("scrape: %s", r.body)
		}
	})
	t.Run("scrape token reads metrics with the store down", func(t *testing.T) {
		e, st := outageEnv(t, WithMetricsToken(scrapeToken))
		e.check(e.key("acme/bot"), map[string]any{"tool_name": "docs.read"}) // opens acme, counts a check
		st.down.Store(true)
		r := e.must(200, "GET", "/metrics", scrapeToken, nil)
		if !strings.Contains(string(r.body), "agenttrust_tenants_open 2") {
			t.Errorf("scrape with the store down: %s", r.body)
		}
		// Checks made during the outage deny, and the scrape counts them.
		e.do("POST", "/v1/actions/check", e.key("acme/bot"), map[string]any{"tool_name": "docs.read"})
		r = e.must(200, "GET", "/metrics", scrapeToken, nil)
		if !strings.Contains(string(r.body), "agenttrust_store_errors_total 1") {
			t.Errorf("scrape after a failed check: %s", r.body)
		}
	})
	t.Run("system admin key needs the store", func(t *testing.T) {
		e, st := outageEnv(t, WithMetricsToken(scrapeToken))
		st.down.Store(true)
		if r := e.do("GET", "/metrics", e.key("ops/root"), nil); r.status != 503 || r.code(t) != "store_unavailable" {
			t.Errorf("admin scrape with the store down: %d %s", r.status, r.body)
		}
	})

	// The scrape token is no credential on any other route.
	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"check", "POST", "/v1/actions/check", map[string]any{"tool_name": "docs.read", "agent_id": "bot"}},
		{"whoami", "GET", "/v1/whoami", nil},
		{"audit query", "GET", "/v1/audit", nil},
		{"audit stream", "GET", "/v1/audit/stream", nil},
		{"audit verify", "GET", "/v1/audit/verify", nil},
		{"list keys", "GET", "/v1/keys", nil},
		{"create key", "POST", "/v1/keys", map[string]any{"agent_id": "x"}},
		{"exchange", "POST", "/v1/tokens", nil},
		{"inspect", "POST", "/v1/tokens/inspect", map[string]any{"token": scrapeToken}},
		{"revoke", "POST", "/v1/revocations", map[string]any{"id": "key_x"}},
		{"approvals", "GET", "/v1/approvals", nil},
		{"policy", "GET", "/v1/policy", nil},
		{"tenant bootstrap", "POST", "/v1/tenants/newco/keys", map[string]any{"agent_id": "boss"}},
	} {
		t.Run("scrape token refused on "+tc.name, func(t *testing.T) {
			e, _ := outageEnv(t, WithMetricsToken(scrapeToken))
			r := e.do(tc.method, tc.path, scrapeToken, tc.body)
			if r.status != 401 || r.code(t) != "unsupported_credential" {
				t.Errorf("%s %s with the scrape token: %d %s", tc.method, tc.path, r.status, r.body)
			}
		})
	}
	t.Run("scrape token as the checked credential", func(t *testing.T) {
		e, _ := outageEnv(t, WithMetricsToken(scrapeToken))
		got := e.check(e.key("acme/alice"), map[string]any{"tool_name": "docs.read", "credential": scrapeToken})
		if got["effect"] != "deny" || got["allowed"] != false || got["error"] != "unsupported_credential" {
			t.Errorf("check of the scrape token: %v", got)
		}
		c, err := e.srv.Client(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Check(context.Background(), agenttrust.Request{Tool: "docs.read", Credential: scrapeToken})
		if !errors.Is(err, errs.UnsupportedCredential) || d.Effect != agenttrust.Deny {
			t.Errorf("library check of the scrape token: %v %v", d, err)
		}
		if _, err := c.Authenticate(context.Background(), scrapeToken, netip.Addr{}); !errors.Is(err, errs.UnsupportedCredential) {
			t.Errorf("library authentication of the scrape token: %v", err)
		}
	})

	// Near misses of the token, and other callers, on /metrics.
	for _, tc := range []struct {
		name, cred string
		status     int
		code       string
	}{
		{"no credential", "", 401, "unauthenticated"},
		{"token with a changed last character", scrapeToken[:len(scrapeToken)-1] + "c", 401, "unsupported_credential"},
		{"token prefix", scrapeToken[:32], 401, "unsupported_credential"},
		{"token upper-cased", strings.ToUpper(scrapeToken), 401, "unsupported_credential"},
		{"token twice", scrapeToken + scrapeToken, 401, "unsupported_credential"},
		{"agent key", "acme/bot", 403, "forbidden"},
		{"admin key of another tenant", "acme/alice", 403, "forbidden"},
	} {
		t.Run("metrics refused to "+tc.name, func(t *testing.T) {
			e, _ := outageEnv(t, WithMetricsToken(scrapeToken))
			cred := tc.cred
			if k, ok := e.keys[cred]; ok {
				cred = k
			}
			r := e.do("GET", "/metrics", cred, nil)
			if r.status != tc.status || r.code(t) != tc.code {
				t.Errorf("/metrics: %d %s", r.status, r.body)
			}
		})
	}
	t.Run("metrics refused to a token when none is configured", func(t *testing.T) {
		e, _ := outageEnv(t)
		r := e.do("GET", "/metrics", scrapeToken, nil)
		if r.status != 401 || r.code(t) != "unsupported_credential" {
			t.Errorf("/metrics: %d %s", r.status, r.body)
		}
	})

	// No key carries the metrics role.
	t.Run("create key with the metrics role", func(t *testing.T) {
		e, _ := outageEnv(t)
		r := e.do("POST", "/v1/keys", e.key("acme/alice"), map[string]any{"agent_id": "m", "roles": []string{"metrics"}})
		if r.status != 400 || r.code(t) != "invalid_request" {
			t.Errorf("POST /v1/keys with role metrics: %d %s", r.status, r.body)
		}
		c, err := e.srv.Client(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		for _, roles := range [][]string{{store.RoleMetrics}, {store.RoleAgent, store.RoleMetrics}} {
			if _, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "m", Roles: roles}); !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("CreateKey %v: %v", roles, err)
			}
		}
	})

	// Weak or confusable tokens are refused at configuration.
	for _, tok := range []string{"", "short", strings.Repeat("a", 31), strings.Repeat("a", 513),
		"with space " + strings.Repeat("a", 32), "atk_" + strings.Repeat("a", 40), "att_" + strings.Repeat("a", 40),
		"eyJ" + strings.Repeat("a", 40), strings.Repeat("a", 32) + "\x00", strings.Repeat("é", 20)} {
		t.Run("weak token refused "+quote(tok), func(t *testing.T) {
			if _, err := New(newMemoryStore(), WithMetricsToken(tok)); !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Errorf("WithMetricsToken(%q): %v", tok, err)
			}
		})
	}
}
