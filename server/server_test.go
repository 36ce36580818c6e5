package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

func TestCheckDecisions(t *testing.T) {
	e := newEnv(t)
	bot, alice := e.key("acme/bot"), e.key("acme/alice")
	for _, tc := range []struct {
		name, cred string
		body       map[string]any
		effect     string
		rule       string
		agent      string
	}{
		{"agent allowed", bot, map[string]any{"tool_name": "docs.read", "resource": "doc-1"}, "allow", "read", "bot"},
		{"agent names itself", bot, map[string]any{"agent_id": "bot", "tool_name": "docs.read"}, "allow", "read", "bot"},
		{"agent denied by rule", bot, map[string]any{"tool_name": "docs.delete"}, "deny", "no-delete", "bot"},
		{"default deny", bot, map[string]any{"tool_name": "nope"}, "deny", "", "bot"},
		{"needs approval", bot, map[string]any{"tool_name": "payments.charge", "attributes": map[string]any{"amount": 90}}, "needs_approval", "pay", "bot"},
		{"admin for an agent", alice, map[string]any{"agent_id": "someone", "tool_name": "docs.read"}, "allow", "read", "someone"},
		{"admin checks a credential", alice, map[string]any{"tool_name": "docs.read", "credential": bot}, "allow", "read", "bot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.check(tc.cred, tc.body)
			if got["effect"] != tc.effect || got["rule_id"] != tc.rule || got["agent_id"] != tc.agent {
				t.Fatalf("got %v, want effect %s rule %q agent %s", got, tc.effect, tc.rule, tc.agent)
			}
			if got["allowed"] != (tc.effect == "allow") {
				t.Errorf("allowed = %v with effect %s", got["allowed"], tc.effect)
			}
			if _, err := store.ParseDecisionID(got["decision_id"].(string)); err != nil {
				t.Errorf("decision_id: %v", err)
			}
			if tc.effect == "needs_approval" && !strings.HasPrefix(got["approval_id"].(string), "apr_") {
				t.Errorf("approval_id = %v", got["approval_id"])
			}
			if _, ok := got["error"]; ok {
				t.Errorf("unexpected error field: %v", got)
			}
		})
	}
}

func TestCheckWhoMayCheck(t *testing.T) {
	e := newEnv(t)
	// An agent checks only for itself.
	r := e.must(403, "POST", "/v1/actions/check", e.key("acme/bot"), map[string]any{"agent_id": "bot2", "tool_name": "docs.read"})
	if r.code(t) != "forbidden" {
		t.Errorf("code %s", r.code(t))
	}
	// An approver does not check.
	e.must(403, "POST", "/v1/actions/check", e.key("acme/carol"), map[string]any{"agent_id": "carol", "tool_name": "docs.read"})
	// An admin names the agent.
	r = e.must(400, "POST", "/v1/actions/check", e.key("acme/alice"), map[string]any{"tool_name": "docs.read"})
	if r.code(t) != "missing_field" {
		t.Errorf("code %s", r.code(t))
	}
	// With a body credential, an agent may check another agent's
	// credential (a resource server verifying what it was handed).
	got := e.check(e.key("acme/bot"), map[string]any{"tool_name": "docs.read", "credential": e.key("acme/bot2")})
	if got["agent_id"] != "bot2" || got["effect"] != "allow" {
		t.Errorf("got %v", got)
	}
	// The body's agent_id must agree with the checked credential.
	got = e.check(e.key("acme/bot"), map[string]any{"agent_id": "bot", "tool_name": "docs.read", "credential": e.key("acme/bot2")})
	if got["effect"] != "deny" || got["error"] != "agent_mismatch" {
		t.Errorf("got %v", got)
	}
}

func TestCheckCredentialErrorsAreDecisions(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ cred, code string }{
		{"atk_" + strings.Repeat("a", 36), "key_checksum"},
		{"att_!!!", "malformed_credential"},
		{"hello", "unsupported_credential"},
		{e.key("globex/gbot"), "unknown_key"}, // another tenant's key
	} {
		got := e.check(e.key("acme/alice"), map[string]any{"tool_name": "docs.read", "credential": tc.cred})
		if got["effect"] != "deny" || got["allowed"] != false || got["error"] != tc.code || got["reason"] != "credential rejected" {
			t.Errorf("credential %.12s: got %v, want deny with error %s", tc.cred, got, tc.code)
		}
	}
}

// A token's caveats bind what its holder checks, even when it is only the
// bearer: an agent cannot shed them by leaving "credential" empty.
func TestCheckBearerCaveatsBind(t *testing.T) {
	e := newEnv(t)
	tok := e.exchange(e.key("acme/bot"), "resource in doc-1")
	if got := e.check(tok, map[string]any{"tool_name": "docs.read", "resource": "doc-1"}); got["effect"] != "allow" {
		t.Fatalf("doc-1: %v", got)
	}
	got := e.check(tok, map[string]any{"tool_name": "docs.read", "resource": "doc-2"})
	if got["effect"] != "deny" || got["error"] != "caveat" {
		t.Fatalf("doc-2: %v", got)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{"tool_name": "docs.read"}

	r := e.do("POST", "/v1/actions/check", "", body)
	if r.status != 401 || r.code(t) != "unauthenticated" || r.header.Get("WWW-Authenticate") != `Bearer realm="agenttrust"` {
		t.Errorf("no credential: %d %s %q", r.status, r.body, r.header.Get("WWW-Authenticate"))
	}
	for _, h := range []string{"Basic Zm9vOmJhcg==", "Bearer", "Bearer "} {
		r := e.do("GET", "/v1/whoami", "", nil, "Authorization", h)
		if r.status != 401 || r.code(t) != "unauthenticated" {
			t.Errorf("Authorization %q: %d %s", h, r.status, r.body)
		}
	}
	for _, cred := range []string{"garbage", "atk_" + strings.Repeat("a", 36), "att_AAAA", "eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhY21lIn0.x", strings.Repeat("x", 20000)} {
		r := e.do("GET", "/v1/whoami", cred, nil)
		if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="agenttrust", error="invalid_token"` {
			t.Errorf("credential %.16s: %d %s %q", cred, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
	}
	// A token for a tenant that does not exist opens no client.
	before := len(*e.srv.tenants.Load())
	for _, tn := range []string{"no-such-tenant", "acme"} {
		// The same answer whether or not the tenant exists.
		if r := e.do("GET", "/v1/whoami", forgeToken(t, tn), nil); r.status != 401 || r.code(t) != "bad_signature" {
			t.Errorf("forged token of %s: %d %s", tn, r.status, r.body)
		}
	}
	if after := len(*e.srv.tenants.Load()); after != before {
		t.Errorf("tenants open %d -> %d after a forged token", before, after)
	}

	// 401 and 403 are distinct: a good credential without the role.
	r = e.do("GET", "/v1/keys", e.key("acme/bot"), nil)
	if r.status != 403 || r.code(t) != "forbidden" {
		t.Errorf("agent listing keys: %d %s", r.status, r.body)
	}

	who := e.must(200, "GET", "/v1/whoami", e.key("acme/carol"), nil).json(t)
	if who["tenant"] != "acme" || who["agent_id"] != "carol" || who["roles"].([]any)[0] != "approver" {
		t.Errorf("whoami: %v", who)
	}
}

// forgeToken makes a token claiming tenant, signed with a master key the
// server does not have.
func forgeToken(t *testing.T, tenant string) string {
	t.Helper()
	st := memory.New()
	c, err := agenttrust.New(st, agenttrust.WithTenant(tenant))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	alice := e.key("acme/alice")
	exp := t0.Add(48 * time.Hour)
	r := e.must(201, "POST", "/v1/keys", alice, map[string]any{
		"agent_id": "newbot", "name": "ci", "roles": []string{"agent"}, "expires_at": exp,
		"allowed_ips": []string{"127.0.0.1"}, "caveats": []string{"tool in docs.*"},
	}).json(t)
	secret := r["secret"].(string)
	key := r["key"].(map[string]any)
	if !strings.HasPrefix(secret, "atk_") || key["agent_id"] != "newbot" || key["tenant"] != "acme" || key["revoked"] != false {
		t.Fatalf("create: %v", r)
	}
	if key["expires_at"] != exp.Format(time.RFC3339) || key["allowed_ips"].([]any)[0] != "127.0.0.1/32" {
		t.Errorf("create: %v", key)
	}
	id := key["id"].(string)

	list := e.must(200, "GET", "/v1/keys", alice, nil)
	if strings.Contains(string(list.body), secret) || strings.Contains(string(list.body), "hash") {
		t.Fatal("key list holds a secret or hash")
	}
	if n := len(list.json(t)["keys"].([]any)); n != 6 {
		t.Errorf("%d keys listed, want 6 (acme's own)", n)
	}
	if got := e.check(secret, map[string]any{"tool_name": "docs.read"}); got["effect"] != "allow" {
		t.Fatalf("new key: %v", got)
	}

	e.must(204, "POST", "/v1/keys/"+id+"/revoke", alice, nil)
	r2 := e.do("POST", "/v1/actions/check", secret, map[string]any{"tool_name": "docs.read"})
	if r2.status != 401 || r2.code(t) != "revoked" {
		t.Errorf("revoked key: %d %s", r2.status, r2.body)
	}
	for _, k := range e.must(200, "GET", "/v1/keys", alice, nil).json(t)["keys"].([]any) {
		if k := k.(map[string]any); k["id"] == id && k["revoked"] != true {
			t.Errorf("revoked key listed as %v", k)
		}
	}
	e.must(404, "POST", "/v1/keys/key_nosuchkey/revoke", alice, nil)
	e.must(400, "POST", "/v1/keys/notakey/revoke", alice, nil)
}

func TestTenantBootstrap(t *testing.T) {
	e := newEnv(t)
	root := e.key("ops/root")
	r := e.must(201, "POST", "/v1/tenants/initech/keys", root, map[string]any{"agent_id": "peter"}).json(t)
	secret := r["secret"].(string)
	if roles := r["key"].(map[string]any)["roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
		t.Fatalf("roles %v", roles)
	}
	// The new admin runs its tenant.
	e.must(201, "POST", "/v1/keys", secret, map[string]any{"agent_id": "worker"})
	// Only while there is no live admin.
	if r := e.do("POST", "/v1/tenants/initech/keys", root, map[string]any{"agent_id": "bob"}); r.status != 409 {
		t.Errorf("second bootstrap: %d %s", r.status, r.body)
	}
	// Once every admin key is revoked, the operator may again.
	e.must(204, "POST", "/v1/keys/"+r["key"].(map[string]any)["id"].(string)+"/revoke", secret, nil)
	e.must(201, "POST", "/v1/tenants/initech/keys", root, map[string]any{"agent_id": "bob"})
	// Another tenant's admin may not; the operator's scraper may not.
	e.must(403, "POST", "/v1/tenants/umbrella/keys", e.key("acme/alice"), map[string]any{"agent_id": "x"})
	e.must(403, "POST", "/v1/tenants/umbrella/keys", e.key("ops/scraper"), map[string]any{"agent_id": "x"})
	e.must(400, "POST", "/v1/tenants/bad%01name/keys", root, map[string]any{"agent_id": "x"})
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	bot := e.key("acme/bot")
	r := e.must(201, "POST", "/v1/tokens", bot, nil).json(t)
	tok := r["token"].(string)
	if r["format"] != "macaroon" || !strings.HasPrefix(tok, "att_") || !strings.HasPrefix(r["token_id"].(string), "tok_") {
		t.Fatalf("exchange: %v", r)
	}
	if r["expires_at"] != t0.Add(defaultTokenTTL).Format(time.RFC3339) {
		t.Errorf("expires_at %v", r["expires_at"])
	}
	// Exchange needs the API key itself.
	e.must(400, "POST", "/v1/tokens", tok, nil)

	jr := e.must(201, "POST", "/v1/tokens", bot, map[string]any{"format": "jwt", "audience": "agenttrust"}).json(t)
	jwt := jr["token"].(string)
	if jr["format"] != "jwt" || !strings.HasPrefix(jr["token_id"].(string), "tok_") {
		t.Fatalf("jwt exchange: %v", jr)
	}
	if got := e.check(jwt, map[string]any{"tool_name": "docs.read"}); got["effect"] != "allow" {
		t.Errorf("check with JWT: %v", got)
	}
	e.must(400, "POST", "/v1/tokens", bot, map[string]any{"format": "jwt"})
	e.must(400, "POST", "/v1/tokens", bot, map[string]any{"format": "paseto"})
	e.must(400, "POST", "/v1/tokens", bot, map[string]any{"caveats": []string{"nonsense caveat"}})

	// Delegate the bearer token, narrower.
	d := e.must(201, "POST", "/v1/tokens/delegate", tok, map[string]any{"ttl_seconds": 60, "caveats": []string{"resource in doc-1"}}).json(t)
	child := d["token"].(string)
	hop := d["hop"].(map[string]any)
	if !strings.HasPrefix(hop["id"].(string), "hop_") || hop["agent_id"] != "bot" {
		t.Fatalf("delegate: %v", d)
	}
	if got := e.check(child, map[string]any{"tool_name": "docs.read", "resource": "doc-2"}); got["effect"] != "deny" {
		t.Errorf("child widened: %v", got)
	}
	// A delegated token acts as an agent, never as admin.
	adminTok := e.exchange(e.key("acme/alice"))
	ad := e.must(201, "POST", "/v1/tokens/delegate", adminTok, nil).json(t)
	who := e.must(200, "GET", "/v1/whoami", ad["token"].(string), nil).json(t)
	if roles := who["roles"].([]any); len(roles) != 1 || roles[0] != "agent" || len(who["hop_ids"].([]any)) != 1 {
		t.Errorf("delegated admin token: %v", who)
	}
	e.must(403, "GET", "/v1/keys", ad["token"].(string), nil)

	// An agent delegates and inspects only its own tokens.
	bot2Tok := e.exchange(e.key("acme/bot2"))
	e.must(403, "POST", "/v1/tokens/delegate", bot, map[string]any{"token": bot2Tok})
	e.must(403, "POST", "/v1/tokens/inspect", bot, map[string]any{"token": bot2Tok})
	e.must(201, "POST", "/v1/tokens/delegate", e.key("acme/alice"), map[string]any{"token": bot2Tok})

	info := e.must(200, "POST", "/v1/tokens/inspect", bot, map[string]any{"token": child}).json(t)
	if info["agent_id"] != "bot" || info["tenant"] != "acme" || len(info["hop_ids"].([]any)) != 1 {
		t.Errorf("inspect: %v", info)
	}
	if strings.Contains(string(e.must(200, "POST", "/v1/tokens/inspect", bot, map[string]any{"token": child}).body), child[10:40]) {
		t.Error("inspect echoes the token")
	}
	e.must(400, "POST", "/v1/tokens/inspect", bot, map[string]any{"token": "att_%%%"})
	e.must(400, "POST", "/v1/tokens/delegate", bot, map[string]any{"ttl_seconds": -1})
}

func TestRevocationsAndSuspension(t *testing.T) {
	e := newEnv(t)
	alice, bot := e.key("acme/alice"), e.key("acme/bot")
	tok := e.exchange(bot)
	id := e.must(200, "POST", "/v1/tokens/inspect", alice, map[string]any{"token": tok}).json(t)["id"].(string)
	e.must(204, "POST", "/v1/revocations", alice, map[string]any{"id": id})
	r := e.do("POST", "/v1/actions/check", tok, map[string]any{"tool_name": "docs.read"})
	if r.status != 401 || r.code(t) != "revoked" {
		t.Errorf("revoked token: %d %s", r.status, r.body)
	}
	// The key still works: only the token is revoked.
	e.check(bot, map[string]any{"tool_name": "docs.read"})

	e.must(204, "POST", "/v1/agents/bot2/suspend", alice, map[string]any{"reason": "runaway"})
	got := e.check(alice, map[string]any{"agent_id": "bot2", "tool_name": "docs.read"})
	if got["effect"] != "deny" || got["reason"] != "agent suspended" {
		t.Errorf("suspended agent: %v", got)
	}
	bl := e.must(200, "GET", "/v1/revocations", alice, nil).json(t)["blocks"].([]any)
	if len(bl) != 2 {
		t.Errorf("blocks: %v", bl)
	}
	e.must(204, "POST", "/v1/agents/bot2/resume", alice, nil)
	if got := e.check(alice, map[string]any{"agent_id": "bot2", "tool_name": "docs.read"}); got["effect"] != "allow" {
		t.Errorf("resumed agent: %v", got)
	}
	e.must(404, "POST", "/v1/agents/bot2/resume", alice, nil)
	e.must(204, "POST", "/v1/agents/bot2/suspend", alice, nil) // no body
	e.must(403, "POST", "/v1/agents/bot2/resume", bot, nil)
	e.must(403, "POST", "/v1/revocations", bot, map[string]any{"id": "bot2"})
}

func TestPolicyRoutes(t *testing.T) {
	e := newEnv(t)
	alice := e.key("acme/alice")
	p := e.must(200, "GET", "/v1/policy", e.key("acme/carol"), nil).json(t)
	if p["version"] != float64(1) || p["format"] != "json" || p["body"] != acmePolicy {
		t.Fatalf("policy: %v", p)
	}
	next := `{"rules":[{"id":"all","effect":"allow"}]}`
	r := e.must(200, "PUT", "/v1/policy", alice, map[string]any{"format": "json", "body": next, "expect_version": 1}).json(t)
	if r["version"] != float64(2) {
		t.Fatalf("put: %v", r)
	}
	if got := e.check(alice, map[string]any{"agent_id": "x", "tool_name": "docs.delete"}); got["rule_id"] != "all" {
		t.Errorf("new policy not live: %v", got)
	}
	// A stale version conflicts and changes nothing.
	if r := e.do("PUT", "/v1/policy", alice, map[string]any{"format": "json", "body": acmePolicy, "expect_version": 1}); r.status != 409 || r.code(t) != "conflict" {
		t.Errorf("stale put: %d %s", r.status, r.body)
	}
	// An invalid document is refused and changes nothing.
	bad := `{"rules":[{"id":"x","effect":"maybe"}]}`
	if r := e.do("PUT", "/v1/policy", alice, map[string]any{"format": "json", "body": bad, "expect_version": 2}); r.status != 400 || r.code(t) != "invalid_policy" {
		t.Errorf("bad put: %d %s", r.status, r.body)
	}
	e.must(400, "PUT", "/v1/policy", alice, map[string]any{"format": "json", "body": next})
	if p := e.must(200, "GET", "/v1/policy", alice, nil).json(t); p["version"] != float64(2) || p["body"] != next {
		t.Errorf("policy after refusals: %v", p)
	}

	v := e.must(200, "POST", "/v1/policy/validate", alice, map[string]any{"format": "yaml", "body": "rules:\n  - id: a\n    effect: allow\n  - id: a\n    effect: deny\n    when: ['attr.x ~ 1']\n"}).json(t)
	if v["valid"] != false || len(v["problems"].([]any)) == 0 {
		t.Errorf("validate: %v", v)
	}
	v = e.must(200, "POST", "/v1/policy/validate", alice, map[string]any{"format": "json", "body": next}).json(t)
	if v["valid"] != true || len(v["problems"].([]any)) != 0 {
		t.Errorf("validate good: %v", v)
	}
	e.must(403, "PUT", "/v1/policy", e.key("acme/carol"), map[string]any{"format": "json", "body": next, "expect_version": 2})
	// globex has no stored policy of its own beyond setup; a new tenant has none.
	root := e.key("ops/root")
	adm := e.must(201, "POST", "/v1/tenants/initech/keys", root, map[string]any{"agent_id": "peter"}).json(t)["secret"].(string)
	e.must(404, "GET", "/v1/policy", adm, nil)
}

func TestOperationalRoutes(t *testing.T) {
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(299)
		w.Write([]byte(r.Method + " " + r.URL.Path))
	})
	e := newEnv(t, WithStoreAPI(stub))
	if r := e.must(200, "GET", "/healthz", "", nil).json(t); r["status"] != "ok" {
		t.Errorf("healthz: %v", r)
	}
	if r := e.must(200, "GET", "/readyz", "", nil).json(t); r["status"] != "ready" {
		t.Errorf("readyz: %v", r)
	}
	jw := e.must(200, "GET", "/.well-known/jwks.json", "", nil).json(t)
	keys := jw["keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["kid"] != "sk1" {
		t.Errorf("jwks: %v", jw)
	}

	e.check(e.key("acme/bot"), map[string]any{"tool_name": "docs.read"})
	e.must(401, "GET", "/metrics", "", nil)
	e.must(403, "GET", "/metrics", e.key("acme/alice"), nil)
	m := e.must(200, "GET", "/metrics", e.key("ops/scraper"), nil)
	for _, want := range []string{
		`agenttrust_checks_total{effect="allow"} 1`,
		`agenttrust_check_duration_seconds_bucket{le="+Inf"} 1`,
		"agenttrust_check_duration_seconds_count 1",
		"agenttrust_store_errors_total 0",
		"# TYPE agenttrust_audit_queue_depth gauge",
		`agenttrust_http_requests_total{route="POST /v1/actions/check",code="2xx"} 1`,
	} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %q:\n%s", want, m.body)
		}
	}
	if ct := m.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("metrics content type %q", ct)
	}

	// The store API: admins of the system tenant only, prefix stripped.
	if r := e.do("POST", "/v1/store/blocked", e.key("ops/root"), "{}"); r.status != 299 || string(r.body) != "POST /blocked" {
		t.Errorf("store API: %d %s", r.status, r.body)
	}
	e.must(401, "GET", "/v1/store/x", "", nil)
	e.must(403, "GET", "/v1/store/x", e.key("acme/alice"), nil)
	e.must(403, "GET", "/v1/store/x", e.key("ops/scraper"), nil)

	// Without WithStoreAPI the route does not exist.
	e2 := newEnv(t)
	e2.must(404, "GET", "/v1/store/x", e2.key("ops/root"), nil)

	if r := e.do("GET", "/v1/nothing", "", nil); r.status != 404 || r.code(t) != "not_found" {
		t.Errorf("unknown route: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1/keys", e.key("acme/alice"), nil); r.status != 405 || r.header.Get("Allow") != "GET, POST" || r.code(t) != "method_not_allowed" {
		t.Errorf("wrong method: %d %s %q", r.status, r.body, r.header.Get("Allow"))
	}
}

func TestReadyzStoreDown(t *testing.T) {
	e := newEnv(t)
	e.st.Close()
	r := e.do("GET", "/readyz", "", nil)
	if r.status != 503 || r.json(t)["store"] != "store_unavailable" {
		t.Errorf("readyz with the store closed: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v1/keys", e.key("acme/alice"), nil)
	if r.status != 503 || r.code(t) != "store_unavailable" {
		t.Errorf("keys with the store closed: %d %s", r.status, r.body)
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	bot := e.key("acme/bot")
	e.check(bot, map[string]any{"tool_name": "docs.read"})
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	// The audit was flushed to the store.
	recs, err := e.st.QueryAudit(context.Background(), store.AuditQuery{Tenant: "acme"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit after Close: %d records, %v", len(recs), err)
	}
	r := e.do("POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
	if r.status != 503 || r.code(t) != "closed" {
		t.Errorf("after Close: %d %s", r.status, r.body)
	}
	if _, err := e.srv.Client(context.Background(), "new"); !errors.Is(err, agenttrust.ErrClosed) {
		t.Errorf("Client after Close: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	st := memory.New()
	for _, o := range []Option{
		WithNodeName("a/b"), WithNodeName(""), WithSystemTenant(""), WithSystemTenant("a\x00"),
		WithLogger(nil), WithStoreAPI(nil), WithClock(nil), WithAuditPoll(0), nil,
		WithClientOptions(nil),
	} {
		if _, err := New(st, o); !errors.Is(err, agenttrust.ErrInvalidConfig) {
			t.Errorf("option accepted: %v", err)
		}
	}
	if _, err := New(nil); !errors.Is(err, agenttrust.ErrInvalidConfig) {
		t.Errorf("nil store: %v", err)
	}
}

// flakyStore fails ConsumeApproval on demand: a store fault in the
// middle of a check, after authentication.
type flakyStore struct {
	*memory.Store
	fail atomic.Bool
}

func (f *flakyStore) ConsumeApproval(ctx context.Context, tenant, fp string, now time.Time) (store.Approval, error) {
	if f.fail.Load() {
		return store.Approval{}, store.ErrUnavailable
	}
	return f.Store.ConsumeApproval(ctx, tenant, fp, now)
}

func TestCheckStoreFaultIsADeny(t *testing.T) {
	st := &flakyStore{Store: memory.New()}
	srv, err := New(st, WithNodeName("n1"), WithSystemTenant("ops"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	acme, _ := srv.Client(ctx, "acme")
	if _, err := acme.SavePolicy(ctx, []byte(acmePolicy), "json", 0); err != nil {
		t.Fatal(err)
	}
	bot, _, _ := acme.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	ops, _ := srv.Client(ctx, "ops")
	scraper, _, _ := ops.CreateKey(ctx, agenttrust.KeySpec{AgentID: "scraper", Roles: []string{"approver"}})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	e := &env{t: t, ts: ts, srv: srv}

	st.fail.Store(true)
	got := e.check(bot, map[string]any{"tool_name": "payments.charge"})
	if got["effect"] != "deny" || got["error"] != "store_unavailable" || got["approval_id"] != "" {
		t.Errorf("check with the store failing: %v", got)
	}
	st.fail.Store(false)
	m := string(e.must(200, "GET", "/metrics", scraper, nil).body)
	for _, want := range []string{"agenttrust_store_errors_total 1", "agenttrust_check_errors_total 1", `agenttrust_checks_total{effect="deny"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
