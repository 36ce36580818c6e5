package server

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/store"
)

// narrowCaveats are the caveats of every narrowed credential below.
var narrowCaveats = []string{"tool in calendar.read", "session = s-narrow"}

const narrowPolicy = `{"rules":[
 {"id":"read","effect":"allow","tools":["docs.read"]},
 {"id":"cal","effect":"allow","tools":["calendar.read"]},
 {"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human"}
]}`

// narrowEnv is an env with a credential of every narrowed kind, their
// unnarrowed twins, and objects for the routes to act on.
type narrowEnv struct {
	*env
	narrowed map[string]string // name -> credential
	plain    map[string]string // name -> credential, unnarrowed
	botTok   string
	botApr   []string // pending approvals of bot, one per route that decides one
	aliceApr string   // alice's own approval, outside her narrowed caveats
}

func newNarrowEnv(t *testing.T) *narrowEnv {
	t.Helper()
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	e := &narrowEnv{env: newEnv(t, WithStoreAPI(stub)), narrowed: map[string]string{}, plain: map[string]string{}}
	ctx := context.Background()
	acme, err := e.srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := e.srv.Client(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acme.SavePolicy(ctx, []byte(narrowPolicy), "json", 1); err != nil {
		t.Fatal(err)
	}
	alice, carol, selfish := e.key("acme/alice"), e.key("acme/carol"), e.key("acme/selfish")
	root, scraper := e.key("ops/root"), e.key("ops/scraper")

	e.narrowed["admin token"] = e.exchange(alice, narrowCaveats...)
	e.narrowed["admin token, attribute caveat"] = e.exchange(alice, "attr.amount <= 5")
	e.narrowed["admin token, on_behalf_of caveat"] = e.exchange(alice, "on_behalf_of = nobody")
	e.narrowed["admin token, resource caveat"] = e.exchange(alice, "resource in cal:*")
	adminJWT := e.must(201, "POST", "/v1/tokens", alice, map[string]any{"format": "jwt", "audience": "agenttrust", "caveats": narrowCaveats}).json(t)["token"].(string)
	e.narrowed["admin JWT"] = adminJWT
	deleg, err := agenttrust.Attenuate(e.exchange(alice))
	if err != nil {
		t.Fatal(err)
	}
	e.narrowed["admin token, delegated"] = deleg
	e.narrowed["admin key, stored with caveats"] = e.legacyKey("acme", "alice", []string{store.RoleAdmin})
	if e.narrowed["approver token"], err = acme.Exchange(ctx, carol, narrowCaveats...); err != nil {
		t.Fatal(err)
	}
	e.narrowed["approver key, stored with caveats"] = e.legacyKey("acme", "carol", []string{store.RoleApprover})
	e.narrowed["agent+approver token"] = e.exchange(selfish, narrowCaveats...)
	e.narrowed["system admin token"] = e.exchange(root, narrowCaveats...)
	if e.narrowed["system approver token"], err = ops.Exchange(ctx, scraper, narrowCaveats...); err != nil {
		t.Fatal(err)
	}

	e.plain["admin token"] = e.exchange(alice)
	e.plain["approver key"] = carol
	e.plain["system admin token"] = e.exchange(root)
	e.plain["system approver key"] = scraper

	e.botTok = e.exchange(e.key("acme/bot"))
	for i := range 3 {
		e.botApr = append(e.botApr, e.pendingApproval(e.key("acme/bot"), 100+i))
	}
	d := e.check(alice, map[string]any{"agent_id": "alice", "tool_name": "payments.charge", "session_id": "s-narrow", "resource": "cust-1"})
	if d["effect"] != "needs_approval" {
		t.Fatalf("alice's approval: %v", d)
	}
	e.aliceApr = d["approval_id"].(string)
	return e
}

// legacyKey stores a key with roles and the narrowing caveats directly,
// as a store written before CreateKey refused the combination would hold
// it, and returns its secret.
func (e *narrowEnv) legacyKey(tenant, agent string, roles []string) string {
	e.t.Helper()
	secret, err := apikey.Generate(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	k := store.Key{
		ID: "key_legacy" + strings.ReplaceAll(agent, "-", "") + roles[0], Tenant: tenant, AgentID: agent,
		Hash: apikey.Hash(secret), Roles: roles, Caveats: narrowCaveats, CreatedAt: t0,
	}
	if err := e.st.CreateKey(context.Background(), k); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// want asserts a response's status and, for an error, its code.
func wantResp(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if code != "" {
		if got := r.code(t); got != code {
			t.Fatalf("code %q, want %q: %s", got, code, r.body)
		}
	}
}

// wantDeny asserts a 200 check answer that denies with error code.
func wantDeny(t *testing.T, r resp, code string) {
	t.Helper()
	wantResp(t, r, 200, "")
	m := r.json(t)
	if m["allowed"] != false || m["effect"] != "deny" || m["error"] != code {
		t.Fatalf("want a deny with error %q: %s", code, r.body)
	}
}

// TestAttackNarrowing: a credential narrowed by a caveat (a token exchanged
// with caveats, a key stored with them, a delegated token) holds at most
// the agent role, on every route, whatever its root key may do; what it
// does as an agent stays within its caveats.
func TestAttackNarrowing(t *testing.T) {
	e := newNarrowEnv(t)
	n := e.narrowed
	agentCapable := []string{"admin token", "admin JWT", "admin key, stored with caveats", "agent+approver token", "system admin token"}

	// Every route but the public ones, with the request a narrowed
	// credential must not get through, and an unnarrowed credential that
	// does get through (so the case can fail).
	type routeCase struct {
		route        string // the routeTable name
		method, path string
		body         any
		control      string // key of e.plain
		controlWant  int
		agentWant    int    // the answer to a narrowed credential with the agent role (0: 403)
		agentCode    string // its error code
	}
	botApr := e.botApr
	cases := []routeCase{
		{route: "POST /v1/actions/check", method: "POST", path: "/v1/actions/check",
			body:    map[string]any{"agent_id": "bot", "tool_name": "payments.charge", "resource": "cust-9"},
			control: "admin token", controlWant: 200},
		{route: "POST /v1/keys", method: "POST", path: "/v1/keys", body: map[string]any{"agent_id": "mallory", "roles": []string{"admin"}},
			control: "admin token", controlWant: 201},
		{route: "GET /v1/keys", method: "GET", path: "/v1/keys", control: "admin token", controlWant: 200},
		{route: "POST /v1/keys/{id}/revoke", method: "POST", path: "/v1/keys/" + e.ids["acme/bot2"] + "/revoke",
			control: "admin token", controlWant: 204},
		{route: "POST /v1/tenants/{tenant}/keys", method: "POST", path: "/v1/tenants/newco/keys", body: map[string]any{"agent_id": "boss"},
			control: "system admin token", controlWant: 201},
		{route: "POST /v1/tokens/delegate", method: "POST", path: "/v1/tokens/delegate", body: map[string]any{"token": e.botTok},
			control: "admin token", controlWant: 201},
		{route: "POST /v1/tokens/inspect", method: "POST", path: "/v1/tokens/inspect", body: map[string]any{"token": e.botTok},
			control: "admin token", controlWant: 200},
		{route: "POST /v1/revocations", method: "POST", path: "/v1/revocations", body: map[string]any{"id": "agent-x"},
			control: "admin token", controlWant: 204},
		{route: "GET /v1/revocations", method: "GET", path: "/v1/revocations", control: "admin token", controlWant: 200},
		{route: "POST /v1/agents/{id}/suspend", method: "POST", path: "/v1/agents/victim/suspend",
			control: "admin token", controlWant: 204},
		{route: "POST /v1/agents/{id}/resume", method: "POST", path: "/v1/agents/victim/resume",
			control: "admin token", controlWant: 204},
		{route: "GET /v1/approvals", method: "GET", path: "/v1/approvals?agent_id=bot", control: "approver key", controlWant: 200},
		{route: "GET /v1/approvals/{id}", method: "GET", path: "/v1/approvals/" + botApr[0], control: "approver key", controlWant: 200},
		{route: "POST /v1/approvals/{id}/approve", method: "POST", path: "/v1/approvals/" + botApr[1] + "/approve",
			control: "approver key", controlWant: 200},
		{route: "POST /v1/approvals/{id}/deny", method: "POST", path: "/v1/approvals/" + botApr[2] + "/deny",
			control: "approver key", controlWant: 200},
		{route: "GET /v1/audit", method: "GET", path: "/v1/audit", control: "approver key", controlWant: 200},
		{route: "GET /v1/audit/stream", method: "GET", path: "/v1/audit/stream?since=x", control: "approver key", controlWant: 400},
		{route: "GET /v1/audit/verify", method: "GET", path: "/v1/audit/verify", control: "approver key", controlWant: 200},
		{route: "GET /v1/policy", method: "GET", path: "/v1/policy", control: "approver key", controlWant: 200},
		{route: "PUT /v1/policy", method: "PUT", path: "/v1/policy",
			body:    map[string]any{"format": "json", "body": `{"default":"allow","rules":[]}`, "expect_version": 99},
			control: "admin token", controlWant: 409},
		{route: "POST /v1/policy/validate", method: "POST", path: "/v1/policy/validate",
			body: map[string]any{"format": "json", "body": `{}`}, control: "admin token", controlWant: 200},
		{route: "GET /metrics", method: "GET", path: "/metrics", control: "system approver key", controlWant: 200},
		{route: "* /v1/store/", method: "GET", path: "/v1/store/keys", control: "system admin token", controlWant: 299},
	}
	covered := map[string]bool{
		// Cases of their own below.
		"GET /v1/whoami": true, "POST /v1/tokens": true,
	}
	for _, rc := range cases {
		covered[rc.route] = true
		t.Run(rc.route, func(t *testing.T) {
			for name, cred := range n {
				t.Run(name, func(t *testing.T) {
					r := e.do(rc.method, rc.path, cred, rc.body)
					if strings.HasPrefix(name, "system") && r.status == http.StatusNotFound {
						// An object of another tenant: not even seen.
						wantResp(t, r, http.StatusNotFound, "not_found")
						return
					}
					wantResp(t, r, http.StatusForbidden, "forbidden")
				})
			}
			t.Run("control "+rc.control, func(t *testing.T) {
				if r := e.do(rc.method, rc.path, e.plain[rc.control], rc.body); r.status != rc.controlWant {
					t.Fatalf("unnarrowed %s: status %d, want %d: %s", rc.control, r.status, rc.controlWant, r.body)
				}
			})
		})
	}
	// A route added later is covered at least this far.
	for _, rt := range routeTable() {
		if rt.access == public || covered[rt.name()] {
			continue
		}
		t.Run(rt.name()+"/uncovered route", func(t *testing.T) {
			path := strings.NewReplacer("{id}", "x", "{tenant}", "x").Replace(rt.path)
			method := rt.method
			if method == "" {
				method = "GET"
			}
			for name, cred := range n {
				if r := e.do(method, path, cred, nil); r.status != 401 && r.status != 403 && r.status != 404 {
					t.Errorf("%s: status %d: %s", name, r.status, r.body)
				}
			}
		})
	}

	t.Run("GET /v1/whoami", func(t *testing.T) {
		for name, cred := range n {
			t.Run(name, func(t *testing.T) {
				r := e.must(200, "GET", "/v1/whoami", cred, nil).json(t)
				for _, role := range r["roles"].([]any) {
					if role != store.RoleAgent {
						t.Fatalf("a narrowed credential holds role %v: %v", role, r)
					}
				}
			})
		}
		t.Run("caveats shown", func(t *testing.T) {
			r := e.must(200, "GET", "/v1/whoami", n["admin token"], nil).json(t)
			cavs, _ := r["caveats"].([]any)
			if len(cavs) != 2 || cavs[0] != "tool in calendar.read" || cavs[1] != "session = s-narrow" {
				t.Fatalf("whoami: %v", r)
			}
		})
		t.Run("control admin token", func(t *testing.T) {
			r := e.must(200, "GET", "/v1/whoami", e.plain["admin token"], nil).json(t)
			if roles := r["roles"].([]any); len(roles) != 1 || roles[0] != store.RoleAdmin {
				t.Fatalf("whoami: %v", r)
			}
		})
	})

	// As an agent, a narrowed credential acts only within its caveats.
	t.Run("check own action outside the caveats", func(t *testing.T) {
		for _, name := range agentCapable {
			t.Run(name, func(t *testing.T) {
				wantDeny(t, e.do("POST", "/v1/actions/check", n[name], map[string]any{"tool_name": "payments.charge", "session_id": "s-narrow", "resource": "cust-1"}), "caveat")
			})
		}
		t.Run("other session", func(t *testing.T) {
			wantDeny(t, e.do("POST", "/v1/actions/check", n["admin token"], map[string]any{"tool_name": "calendar.read", "session_id": "s-other"}), "caveat")
		})
		t.Run("attribute", func(t *testing.T) {
			wantDeny(t, e.do("POST", "/v1/actions/check", n["admin token, attribute caveat"], map[string]any{"tool_name": "docs.read", "attributes": map[string]any{"amount": 500}}), "caveat")
		})
		t.Run("on_behalf_of", func(t *testing.T) {
			wantDeny(t, e.do("POST", "/v1/actions/check", n["admin token, on_behalf_of caveat"], map[string]any{"tool_name": "docs.read", "on_behalf_of": "ceo"}), "caveat")
		})
		t.Run("resource", func(t *testing.T) {
			wantDeny(t, e.do("POST", "/v1/actions/check", n["admin token, resource caveat"], map[string]any{"tool_name": "docs.read", "resource": "doc:1"}), "caveat")
		})
	})
	t.Run("check own action inside the caveats", func(t *testing.T) {
		for _, name := range []string{"admin token", "admin JWT", "admin key, stored with caveats", "agent+approver token"} {
			t.Run(name, func(t *testing.T) {
				r := e.must(200, "POST", "/v1/actions/check", n[name], map[string]any{"tool_name": "calendar.read", "session_id": "s-narrow"}).json(t)
				if r["allowed"] != true {
					t.Fatalf("inside its caveats: %v", r)
				}
			})
		}
	})
	t.Run("check another credential outside the caller's caveats", func(t *testing.T) {
		for _, name := range agentCapable {
			t.Run(name, func(t *testing.T) {
				wantResp(t, e.do("POST", "/v1/actions/check", n[name], map[string]any{"credential": e.botTok, "tool_name": "docs.read"}), http.StatusForbidden, "caveat")
			})
		}
		t.Run("control admin token", func(t *testing.T) {
			if r := e.check(e.plain["admin token"], map[string]any{"credential": e.botTok, "tool_name": "docs.read"}); r["allowed"] != true {
				t.Fatalf("unnarrowed: %v", r)
			}
		})
	})
	t.Run("check another credential inside the caller's caveats", func(t *testing.T) {
		r := e.check(n["admin token"], map[string]any{"credential": e.botTok, "tool_name": "calendar.read", "session_id": "s-narrow"})
		if r["allowed"] != true || r["agent_id"] != "bot" {
			t.Fatalf("inside the caveats: %v", r)
		}
	})

	t.Run("POST /v1/tokens", func(t *testing.T) {
		t.Run("narrowed key's token keeps the key's caveats", func(t *testing.T) {
			tok := e.exchange(n["admin key, stored with caveats"])
			wantDeny(t, e.do("POST", "/v1/actions/check", tok, map[string]any{"tool_name": "docs.read", "session_id": "s-narrow"}), "caveat")
			wantResp(t, e.do("POST", "/v1/keys", tok, map[string]any{"agent_id": "m"}), http.StatusForbidden, "forbidden")
		})
		t.Run("narrowed key's JWT keeps the key's caveats", func(t *testing.T) {
			tok := e.must(201, "POST", "/v1/tokens", n["admin key, stored with caveats"], map[string]any{"format": "jwt", "audience": "agenttrust"}).json(t)["token"].(string)
			wantDeny(t, e.do("POST", "/v1/actions/check", tok, map[string]any{"tool_name": "docs.read", "session_id": "s-narrow"}), "caveat")
		})
		t.Run("a token cannot exchange", func(t *testing.T) {
			wantResp(t, e.do("POST", "/v1/tokens", n["admin token"], map[string]any{}), http.StatusBadRequest, "invalid_request")
		})
	})
	t.Run("POST /v1/tokens/delegate", func(t *testing.T) {
		t.Run("a wider token of its own agent", func(t *testing.T) {
			wantResp(t, e.do("POST", "/v1/tokens/delegate", n["admin token"], map[string]any{"token": e.plain["admin token"]}), http.StatusForbidden, "forbidden")
		})
		t.Run("itself, and the child keeps the caveats", func(t *testing.T) {
			child := e.must(201, "POST", "/v1/tokens/delegate", n["admin token"], map[string]any{"ttl_seconds": 60}).json(t)["token"].(string)
			wantDeny(t, e.do("POST", "/v1/actions/check", child, map[string]any{"tool_name": "payments.charge", "session_id": "s-narrow"}), "caveat")
			wantResp(t, e.do("POST", "/v1/revocations", child, map[string]any{"id": "x"}), http.StatusForbidden, "forbidden")
		})
	})
	t.Run("GET /v1/approvals", func(t *testing.T) {
		for _, name := range agentCapable {
			t.Run(name, func(t *testing.T) {
				r := e.must(200, "GET", "/v1/approvals", n[name], nil).json(t)
				if as := r["approvals"].([]any); len(as) != 0 {
					t.Fatalf("a narrowed credential lists approvals outside its caveats: %v", as)
				}
			})
		}
		t.Run("control alice's key sees her own", func(t *testing.T) {
			r := e.must(200, "GET", "/v1/approvals?agent_id=alice", e.key("acme/alice"), nil).json(t)
			if as := r["approvals"].([]any); len(as) != 1 {
				t.Fatalf("alice's approvals: %v", as)
			}
		})
	})
	t.Run("GET /v1/approvals/{id} own, outside the caveats", func(t *testing.T) {
		for _, path := range []string{"/v1/approvals/" + e.aliceApr, "/v1/approvals/" + e.aliceApr + "?wait=1s"} {
			wantResp(t, e.do("GET", path, n["admin token"], nil), http.StatusForbidden, "forbidden")
		}
		e.must(200, "GET", "/v1/approvals/"+e.aliceApr, e.key("acme/alice"), nil)
	})

	t.Run("POST /v1/keys refuses admin or approver with caveats", func(t *testing.T) {
		alice := e.key("acme/alice")
		for name, body := range map[string]map[string]any{
			"admin, tool caveat":            {"agent_id": "x", "roles": []string{"admin"}, "caveats": []string{"tool in a"}},
			"approver, session caveat":      {"agent_id": "x", "roles": []string{"approver"}, "caveats": []string{"session = s"}},
			"admin+agent, attribute caveat": {"agent_id": "x", "roles": []string{"agent", "admin"}, "caveats": []string{"attr.n < 3"}},
			"approver, on_behalf_of caveat": {"agent_id": "x", "roles": []string{"approver"}, "caveats": []string{"on_behalf_of = a"}},
			"admin, resource caveat":        {"agent_id": "x", "roles": []string{"admin"}, "caveats": []string{"resource in r:*"}},
			"agent+approver, tool caveat":   {"agent_id": "x", "roles": []string{"agent", "approver"}, "caveats": []string{"tool = t"}},
			"admin, caveat among harmless":  {"agent_id": "x", "roles": []string{"admin"}, "caveats": []string{"expires < 2030-01-01T00:00:00Z", "tool = t"}},
		} {
			t.Run(name, func(t *testing.T) {
				wantResp(t, e.do("POST", "/v1/keys", alice, body), http.StatusBadRequest, "invalid_request")
			})
		}
		for name, body := range map[string]map[string]any{
			"control admin, expiry and address caveats": {"agent_id": "x", "roles": []string{"admin"}, "caveats": []string{"expires < 2030-01-01T00:00:00Z", "ip in 127.0.0.0/8", "agent = x"}},
			"control agent, tool caveat":                {"agent_id": "x", "caveats": []string{"tool = t"}},
		} {
			t.Run(name, func(t *testing.T) {
				wantResp(t, e.do("POST", "/v1/keys", alice, body), http.StatusCreated, "")
			})
		}
	})
}

// TestAttackNarrowingApprover: a narrowed credential with the approver
// role cannot decide even an approval its caveats cover.
func TestAttackNarrowingApprover(t *testing.T) {
	e := newNarrowEnv(t)
	d := e.check(e.key("acme/bot"), map[string]any{"tool_name": "payments.charge", "session_id": "s-narrow"})
	apr := d["approval_id"].(string)
	for _, name := range []string{"approver token", "agent+approver token", "approver key, stored with caveats"} {
		t.Run(name, func(t *testing.T) {
			for _, verb := range []string{"approve", "deny"} {
				wantResp(t, e.do("POST", "/v1/approvals/"+apr+"/"+verb, e.narrowed[name], nil), http.StatusForbidden, "forbidden")
			}
		})
	}
	t.Run("control approver key", func(t *testing.T) {
		r := e.do("POST", "/v1/approvals/"+apr+"/approve", e.key("acme/carol"), nil)
		if r.status != 200 || r.json(t)["status"] != "approved" {
			t.Fatalf("approve: %d %s", r.status, r.body)
		}
	})
}
