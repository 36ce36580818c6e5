package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/console"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

const policy = `{"rules":[
 {"id":"read","effect":"allow","tools":["docs.read"]},
 {"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human","remember_uses":5,"remember_for":"8h"},
 {"id":"ops-only","effect":"needs_approval","tools":["prod.deploy"],"approvers":["carol"],"reason":"carol deploys"},
 {"id":"hostile","effect":"needs_approval","tools":["javascript:*"],"reason":"hostile names"}
]}`

// env is a server over a memory store with the console mounted, both on
// one test clock, and keys of the "acme" tenant: alice (admin), carol and dave (approvers), bot
// (agent), selfish (agent and approver).
type env struct {
	t      *testing.T
	srv    *server.Server
	con    *console.Console
	ts     *httptest.Server
	clock  *testClock
	st     *memory.Store
	keys   map[string]string
	ids    map[string]string
	logBuf *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var (
	masterKey  = agenttrust.SecretKey{ID: "mk1", Secret: bytes.Repeat([]byte("m"), 32)}
	signingKey = agenttrust.SecretKey{ID: "sk1", Secret: bytes.Repeat([]byte("s"), 32)}
)

func newEnv(t *testing.T, tls bool) *env {
	t.Helper()
	e := &env{t: t, st: memory.New(), clock: &testClock{}, keys: map[string]string{}, ids: map[string]string{}, logBuf: &syncBuf{}}
	e.clock.ns.Store(time.Now().UnixNano())
	srv, err := server.New(e.st, server.WithNodeName("n1"), server.WithSystemTenant("ops"), server.WithClock(e.clock.Now), server.WithLogger(slog.New(slog.NewTextHandler(e.logBuf, nil))),
		server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{masterKey}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{signingKey}})),
		server.WithConsole(func(api http.Handler) (http.Handler, error) {
			c, err := console.New(console.Config{API: api, Store: e.st, Now: e.clock.Now, Poll: 20 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(e.logBuf, nil))})
			e.con = c
			return c, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	if tls {
		e.ts = httptest.NewTLSServer(srv)
	} else {
		e.ts = httptest.NewServer(srv)
	}
	t.Cleanup(func() {
		e.con.Close()
		e.ts.Close()
		srv.Close()
	})
	ctx := context.Background()
	c := e.client()
	for _, k := range []struct {
		agent string
		roles []string
	}{
		{"alice", []string{"admin"}}, {"carol", []string{"approver"}}, {"dave", []string{"approver"}},
		{"bot", []string{"agent"}}, {"bot2", []string{"agent"}}, {"selfish", []string{"agent", "approver"}},
	} {
		secret, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: k.agent, Roles: k.roles})
		if err != nil {
			t.Fatal(err)
		}
		e.keys[k.agent], e.ids[k.agent] = secret, key.ID
	}
	if _, err := c.SavePolicy(ctx, []byte(policy), "json", 0); err != nil {
		t.Fatal(err)
	}
	return e
}

// wantOperatorRecord fails the test unless the tenant's audit chain,
// which verifies, holds the record of an operator action tool on target
// by person, naming the key the person signed in with.
func (e *env) wantOperatorRecord(tool, target, person string) {
	e.t.Helper()
	ctx := context.Background()
	c := e.client()
	if err := c.SyncAudit(ctx); err != nil {
		e.t.Fatal(err)
	}
	recs, err := e.st.QueryAudit(ctx, store.AuditQuery{Tenant: "acme"})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := c.VerifyChain(recs); err != nil {
		e.t.Fatalf("audit chain: %v", err)
	}
	for _, r := range recs {
		if r.Tool == tool && r.Resource == target && r.Effect == agenttrust.Allow {
			if r.AgentID != person || r.CredentialID != e.ids[person] {
				e.t.Errorf("%s %s recorded as done by %s with %s, want %s with %s", tool, target, r.AgentID, r.CredentialID, person, e.ids[person])
			}
			return
		}
	}
	e.t.Errorf("no audit record of %s %s by %s", tool, target, person)
}

func (e *env) client() *agenttrust.Client {
	c, err := e.srv.Client(context.Background(), "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// browser is an HTTP client with a cookie jar, sending same-origin
// headers as a browser would.
type browser struct {
	e   *env
	hc  *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	hc := e.ts.Client()
	cp := *hc
	cp.Jar = jar
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{e: e, hc: &cp, jar: jar}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) page {
	b.e.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.ts.URL+path, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.e.ts.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) signIn(agent string) page {
	b.e.t.Helper()
	return b.do("POST", "/ui/login", url.Values{"key": {b.e.keys[agent]}})
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) csrf() string {
	b.e.t.Helper()
	p := b.do("GET", "/ui/approvals", nil)
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		b.e.t.Fatalf("no CSRF token on the approvals page (%d): %s", p.status, p.body)
	}
	return m[1]
}

// pending makes agent's check of tool need approval and returns the
// approval id.
func (e *env) pending(agent, tool, resource string, attrs map[string]any) string {
	e.t.Helper()
	d, err := e.client().Check(context.Background(), agenttrust.Request{Credential: e.keys[agent], Tool: tool, Resource: resource, Attributes: attrs})
	if err != nil || d.Effect != agenttrust.NeedsApproval {
		e.t.Fatalf("check %s: %v %v", tool, d.Effect, err)
	}
	return d.ApprovalID
}

func TestSignIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls    bool
		cookie string
		secure bool
	}{
		{"plain HTTP", false, "agenttrust_console", false},
		{"TLS", true, "__Host-agenttrust_console", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.tls)
			b := e.browser()
			p := b.signIn("alice")
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/approvals" {
				t.Fatalf("sign-in: %d %q", p.status, p.header.Get("Location"))
			}
			sc := p.header.Values("Set-Cookie")
			if len(sc) != 1 {
				t.Fatalf("Set-Cookie: %q", sc)
			}
			ck, err := http.ParseSetCookie(sc[0])
			if err != nil {
				t.Fatal(err)
			}
			if ck.Name != tc.cookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != tc.secure || ck.Path != "/" || ck.Domain != "" {
				t.Errorf("cookie %s: %+v", sc[0], ck)
			}
			if strings.Contains(sc[0], e.keys["alice"]) {
				t.Error("the cookie holds the API key")
			}
			if p := b.do("GET", "/ui/approvals", nil); p.status != http.StatusOK || !strings.Contains(p.body, "alice") {
				t.Errorf("approvals after sign-in: %d", p.status)
			}
			if !strings.Contains(e.logBuf.String(), "by_key="+e.ids["alice"]) {
				t.Errorf("sign-in not logged with the key id: %s", e.logBuf.String())
			}
		})
	}
}

func TestSignInRefused(t *testing.T) {
	e := newEnv(t, false)
	tok, err := e.client().Exchange(context.Background(), e.keys["alice"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, key string }{
		{"agent key", e.keys["bot"]},
		{"unknown key", agenttrust.KeyPrefix + strings.Repeat("x", 40)},
		{"token of an admin key", tok},
		{"empty", ""},
		{"huge", agenttrust.KeyPrefix + strings.Repeat("x", 20000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			p := b.do("POST", "/ui/login", url.Values{"key": {tc.key}})
			if p.status == http.StatusSeeOther || len(p.header.Values("Set-Cookie")) != 0 {
				t.Fatalf("signed in: %d %q", p.status, p.header.Values("Set-Cookie"))
			}
			if p := b.do("GET", "/ui/approvals", nil); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login" {
				t.Errorf("approvals without a session: %d", p.status)
			}
		})
	}
}

// A link from a chat is a cross-site navigation: the browser withholds
// the SameSite=Strict cookie, so the console reloads the page from its
// own origin, which sends it.
func TestCrossSiteLink(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.signIn("carol")
	u, _ := url.Parse(e.ts.URL)
	cookies := b.jar.Cookies(u)
	fresh := e.browser() // what the browser sends cross-site: no cookie
	p := fresh.do("GET", "/ui/approvals", nil, "Sec-Fetch-Site", "cross-site")
	if p.status != http.StatusOK || !strings.Contains(p.body, `<meta http-equiv="refresh" content="0;url=/ui/approvals">`) {
		t.Fatalf("cross-site link: %d %s", p.status, p.body)
	}
	fresh.jar.SetCookies(u, cookies) // the same-origin reload sends it
	if p := fresh.do("GET", "/ui/approvals", nil, "Sec-Fetch-Site", "same-origin"); p.status != http.StatusOK || !strings.Contains(p.body, "carol") {
		t.Fatalf("reload: %d", p.status)
	}
	if p := e.browser().do("GET", "/ui/approvals", nil, "Sec-Fetch-Site", "same-origin"); p.status != http.StatusSeeOther {
		t.Fatalf("same-origin without a session: %d", p.status)
	}
}

func TestSessionEnds(t *testing.T) {
	e := newEnv(t, false)
	t.Run("idle timeout", func(t *testing.T) {
		b := e.browser()
		b.signIn("alice")
		e.clock.Advance(console.DefaultIdleTimeout - time.Second)
		if p := b.do("GET", "/ui/approvals", nil); p.status != http.StatusOK {
			t.Fatalf("before the idle timeout: %d", p.status)
		}
		e.clock.Advance(console.DefaultIdleTimeout - time.Second) // activity moved the deadline
		if p := b.do("GET", "/ui/approvals", nil); p.status != http.StatusOK {
			t.Fatalf("activity did not extend the session: %d", p.status)
		}
		e.clock.Advance(console.DefaultIdleTimeout)
		if p := b.do("GET", "/ui/approvals", nil); p.status != http.StatusSeeOther {
			t.Fatalf("after the idle timeout: %d", p.status)
		}
	})
	t.Run("sign-out, then the old cookie is replayed", func(t *testing.T) {
		b := e.browser()
		b.signIn("alice")
		u, _ := url.Parse(e.ts.URL)
		old := b.jar.Cookies(u)
		p := b.do("POST", "/ui/logout", url.Values{"csrf": {b.csrf()}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("sign-out: %d %s", p.status, p.body)
		}
		b2 := e.browser()
		b2.jar.SetCookies(u, old)
		if p := b2.do("GET", "/ui/approvals", nil); p.status != http.StatusSeeOther {
			t.Fatalf("old cookie after sign-out: %d", p.status)
		}
	})
	t.Run("key revoked", func(t *testing.T) {
		b := e.browser()
		b.signIn("dave")
		if err := e.client().Revoke(context.Background(), e.ids["dave"]); err != nil {
			t.Fatal(err)
		}
		if p := b.do("GET", "/ui/approvals", nil); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login" {
			t.Fatalf("revoked key's session: %d", p.status)
		}
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.signIn("alice")
	tok := b.csrf()
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
		want int
	}{
		{"no token", url.Values{"reason": {"x"}}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"csrf": {tok + "x"}}, nil, http.StatusForbidden},
		{"other origin", url.Values{"csrf": {tok}}, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", ""}, http.StatusForbidden},
		{"cross-site fetch", url.Values{"csrf": {tok}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same origin with token", url.Values{"csrf": {tok}}, nil, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"id": {"bot"}}
			for k, v := range tc.form {
				form[k] = v
			}
			p := b.do("POST", "/ui/agents/suspend", form, tc.hdr...)
			if p.status != tc.want {
				t.Fatalf("status %d, want %d: %s", p.status, tc.want, p.body)
			}
			blocks, err := e.st.Blocks(context.Background(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			if suspended := len(blocks) > 0; suspended != (tc.want == http.StatusSeeOther) {
				t.Fatalf("suspended=%v after %d", suspended, p.status)
			}
		})
	}
	t.Run("login from another origin", func(t *testing.T) {
		p := e.browser().do("POST", "/ui/login", url.Values{"key": {e.keys["alice"]}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d", p.status)
		}
	})
	t.Run("other methods", func(t *testing.T) {
		p := b.do("PUT", "/ui/agents/resume", url.Values{"csrf": {tok}, "id": {"bot"}})
		if p.status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", p.status)
		}
	})
}

// tagRE finds the tags of a page: escaped text holds no '<', so what it
// finds are real elements; badTagRE finds an inline handler, an inline
// style, a javascript: URL or an inline script in one of them.
var (
	tagRE    = regexp.MustCompile(`<[a-zA-Z][^>]*>`)
	badTagRE = regexp.MustCompile(`(?i)\son[a-z]+\s*=|\sstyle\s*=|(?:href|src|action|formaction)\s*=\s*"?\s*javascript:|^<script(?:\s(?:[^s>]|s[^r])*)?>$|<img|<iframe|<object`)
)

// unsafeTag returns the first tag of body with inline script or style.
func unsafeTag(body string) string {
	for _, tag := range tagRE.FindAllString(body, -1) {
		if badTagRE.MatchString(tag) {
			return tag
		}
	}
	return ""
}

// hostile strings an agent controls, in its request.
var (
	hostileTool     = "javascript:alert"
	hostileResource = `"><img src=x onerror=alert(1)><script>alert(2)</script>`
	hostileAttrs    = map[string]any{
		"<script>alert(3)</script>": `javascript:alert(4)`,
		"memo":                      `"><img src=x onerror=alert(5)>`,
		"link":                      "javascript:alert(6)//",
	}
)

func TestHeadersAndEscaping(t *testing.T) {
	e := newEnv(t, false)
	e.pending("bot", hostileTool, hostileResource, hostileAttrs)
	if _, err := e.client().Check(context.Background(), agenttrust.Request{Credential: e.keys["bot"], Tool: "docs.read",
		Resource: hostileResource, Attributes: hostileAttrs}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("alice")
	for _, path := range []string{"/ui/login", "/ui/approvals", "/ui/agents", "/ui/activity", "/ui/activity?tool=" + url.QueryEscape(hostileTool),
		"/ui/revoke?id=" + e.ids["bot"], "/ui/assets/console.js", "/ui/assets/console.css", "/ui/nope"} {
		t.Run(path, func(t *testing.T) {
			p := b.do("GET", path, nil)
			if p.status != http.StatusOK && path != "/ui/nope" && path != "/ui/login" {
				t.Fatalf("status %d: %s", p.status, p.body)
			}
			csp := p.header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline: %q", csp)
			}
			if p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers: %v", p.header)
			}
			if !strings.HasSuffix(path, ".js") && !strings.HasSuffix(path, ".css") {
				if m := unsafeTag(p.body); m != "" {
					t.Errorf("inline script, handler or style: %q", m)
				}
				for _, raw := range []string{"<script>alert", "<img src=x", `"><img`} {
					if strings.Contains(p.body, raw) {
						t.Errorf("unescaped %q in %s", raw, path)
					}
				}
			}
		})
	}
	for _, path := range []string{"/ui/assets/", "/ui/assets/../templates/layout.html", "/ui/templates/layout.html"} {
		if p := b.do("GET", path, nil); p.status == http.StatusOK || strings.Contains(p.body, "console.js") || strings.Contains(p.body, "{{") {
			t.Errorf("%s: %d %q", path, p.status, p.body)
		}
	}
	p := b.do("GET", "/ui/approvals", nil)
	for _, want := range []string{"javascript:alert", "&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(3)&lt;/script&gt;"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("approvals page lacks %q (escaped)", want)
		}
	}
}

func TestApprovals(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	t.Run("approve, and the agent's call goes through", func(t *testing.T) {
		id := e.pending("bot", "payments.charge", "acct/1", map[string]any{"amount": 120})
		b := e.browser()
		b.signIn("carol")
		p := b.do("GET", "/ui/approvals", nil)
		if !strings.Contains(p.body, id) || !strings.Contains(p.body, "payments need a human") || !strings.Contains(p.body, "120") {
			t.Fatalf("approvals page lacks the request: %s", p.body)
		}
		p = b.do("POST", "/ui/approvals/approve", url.Values{"id": {id}, "csrf": {b.csrf()}, "note": {"ok at 3am"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("approve: %d", p.status)
		}
		a, err := e.client().Approval(ctx, id)
		if err != nil || a.Status != agenttrust.ApprovalApproved || a.DecidedBy != "carol" || a.Note != "ok at 3am" {
			t.Fatalf("approval: %+v %v", a, err)
		}
		d, err := e.client().Check(ctx, agenttrust.Request{Credential: e.keys["bot"], Tool: "payments.charge", Resource: "acct/1", Attributes: map[string]any{"amount": 120}})
		if err != nil || !d.Allowed() {
			t.Fatalf("check after approval: %v %v", d.Effect, err)
		}
		if !strings.Contains(e.logBuf.String(), "action=approve target="+id) || !strings.Contains(e.logBuf.String(), "by_key="+e.ids["carol"]) {
			t.Errorf("approve not logged: %s", e.logBuf.String())
		}
		e.wantOperatorRecord("agenttrust.approve", id, "carol")
	})
	t.Run("approve and remember: like requests go through, as often as chosen", func(t *testing.T) {
		check := func(resource string) agenttrust.Decision {
			d, err := e.client().Check(ctx, agenttrust.Request{Credential: e.keys["bot"], Tool: "payments.charge", Resource: resource, Attributes: map[string]any{"amount": 120}})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		id := e.pending("bot", "payments.charge", "acct/10", map[string]any{"amount": 120})
		b := e.browser()
		b.signIn("carol")
		if p := b.do("GET", "/ui/approvals", nil); !strings.Contains(p.body, "Remember this approval") {
			t.Fatalf("no remember control: %s", p.body)
		}
		// More than the rule allows: refused, and the approval still waits.
		b.do("POST", "/ui/approvals/approve", url.Values{"id": {id}, "csrf": {b.csrf()}, "remember": {"1"}, "remember_uses": {"50"}, "remember_for": {"1h"}})
		if p := b.do("GET", "/ui/approvals", nil); !strings.Contains(p.body, `role="alert"`) {
			t.Errorf("no refusal shown: %s", p.body)
		}
		if a, _ := e.client().Approval(ctx, id); a.Status != agenttrust.ApprovalPending {
			t.Fatalf("a refused remember decided the approval: %s", a.Status)
		}
		p := b.do("POST", "/ui/approvals/approve", url.Values{"id": {id}, "csrf": {b.csrf()}, "remember": {"1"}, "remember_uses": {"2"}, "remember_for": {"1h"}, "remember_resources": {"acct/*"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("approve: %d", p.status)
		}
		if d := check("acct/10"); d.ApprovalID != id {
			t.Fatalf("the approved request: %+v", d)
		}
		for _, res := range []string{"acct/11", "acct/12"} {
			if d := check(res); !d.Allowed() || !strings.HasPrefix(d.ApprovalID, "grt_") {
				t.Fatalf("%s under the grant: %+v", res, d)
			}
		}
		if d := check("acct/13"); d.Effect != agenttrust.NeedsApproval {
			t.Fatalf("past the grant's uses: %+v", d)
		}
	})
	for _, tc := range []struct {
		name, asker, tool, person, flash string
	}{
		{"an agent cannot decide its own request", "selfish", "payments.charge", "selfish", "cannot decide its own request"},
		{"an approver the rule does not name", "bot", "prod.deploy", "dave", "not among the approvers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.pending(tc.asker, tc.tool, "", nil)
			b := e.browser()
			b.signIn(tc.person)
			p := b.do("POST", "/ui/approvals/approve", url.Values{"id": {id}, "csrf": {b.csrf()}})
			if p.status != http.StatusSeeOther {
				t.Fatalf("approve: %d", p.status)
			}
			if p := b.do("GET", "/ui/approvals", nil); !strings.Contains(p.body, tc.flash) || !strings.Contains(p.body, `role="alert"`) {
				t.Errorf("no refusal shown: %s", p.body)
			}
			if a, _ := e.client().Approval(ctx, id); a.Status != agenttrust.ApprovalPending {
				t.Fatalf("status %s", a.Status)
			}
		})
	}
	t.Run("deny", func(t *testing.T) {
		id := e.pending("bot", "payments.charge", "acct/2", nil)
		b := e.browser()
		b.signIn("alice")
		b.do("POST", "/ui/approvals/deny", url.Values{"id": {id}, "csrf": {b.csrf()}, "note": {"no"}})
		if a, _ := e.client().Approval(ctx, id); a.Status != agenttrust.ApprovalDenied || a.DecidedBy != "alice" {
			t.Fatalf("approval: %+v", a)
		}
	})
	t.Run("the delegation chain of a request", func(t *testing.T) {
		c := e.client()
		tok, err := c.Exchange(ctx, e.keys["bot"])
		if err != nil {
			t.Fatal(err)
		}
		tokA, hopA, err := c.Delegate(ctx, tok, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tokB, hopB, err := c.Delegate(ctx, tokA, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Check(ctx, agenttrust.Request{Credential: tokB, Tool: "payments.charge", Resource: "acct/chain"})
		if err != nil || d.Effect != agenttrust.NeedsApproval {
			t.Fatalf("check: %v %v", d.Effect, err)
		}
		if err := c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.signIn("carol")
		p := b.do("GET", "/ui/approvals", nil)
		i := strings.Index(p.body, `id="`+d.ApprovalID+`"`)
		if i < 0 {
			t.Fatalf("no card for %s", d.ApprovalID)
		}
		card := p.body[i:]
		card = card[:strings.Index(card, "</article>")]
		want := `<code>` + d.CredentialID + `</code> → <code>` + hopA.ID + `</code> → <code>` + hopB.ID + `</code>`
		if !strings.Contains(card, want) {
			t.Fatalf("card lacks the chain %s: %s", want, card)
		}
	})
	t.Run("approvers do not see the Agents page", func(t *testing.T) {
		b := e.browser()
		b.signIn("carol")
		if p := b.do("GET", "/ui/agents", nil); p.status != http.StatusForbidden {
			t.Fatalf("status %d", p.status)
		}
		if p := b.do("POST", "/ui/agents/suspend", url.Values{"csrf": {b.csrf()}, "id": {"bot"}}); p.status != http.StatusSeeOther {
			t.Fatalf("status %d", p.status)
		}
		if blocks, _ := e.st.Blocks(ctx, "acme"); len(blocks) != 0 {
			t.Fatalf("an approver suspended an agent: %v", blocks)
		}
	})
}

func TestLiveApprovals(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.signIn("carol")
	req, _ := http.NewRequest("GET", e.ts.URL+"/ui/events/approvals", nil)
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got := make(chan string, 1)
	go func() {
		var all strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			all.Write(buf[:n])
			if strings.Contains(all.String(), "payments.charge") || err != nil {
				got <- all.String()
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	id := e.pending("bot", "payments.charge", "acct/9", nil)
	select {
	case s := <-got:
		if !strings.Contains(s, "event: update") || !strings.Contains(s, id) {
			t.Fatalf("stream: %s", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update on the stream")
	}
}

// readUntil reads the stream until it holds want, or fails after 5 s.
func readUntil(t *testing.T, body io.Reader, want string) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var all strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := body.Read(buf)
			all.Write(buf[:n])
			if strings.Contains(all.String(), want) || err != nil {
				got <- all.String()
				return
			}
		}
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, want) {
			t.Fatalf("stream ended without %q: %s", want, s)
		}
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("no %q on the stream", want)
	}
	return ""
}

func TestLiveStreamEnds(t *testing.T) {
	e := newEnv(t, false)
	id := e.pending("bot", "payments.charge", "acct/7", nil)
	b := e.browser()
	b.signIn("carol")
	req, _ := http.NewRequest("GET", e.ts.URL+"/ui/events/approvals", nil)
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	readUntil(t, resp.Body, id)
	// Decided elsewhere (the API, another node): the card goes.
	if err := e.client().Approve(context.Background(), id, "alice", ""); err != nil {
		t.Fatal(err)
	}
	readUntil(t, resp.Body, `id="none-pending"`)
	// Idle: the stream does not keep the session alive; it says so.
	e.clock.Advance(console.DefaultIdleTimeout)
	readUntil(t, resp.Body, "event: signout")
	if p := b.do("GET", "/ui/approvals", nil); p.status != http.StatusSeeOther {
		t.Fatalf("session after the idle timeout: %d", p.status)
	}
	// Without a session, a stream is refused.
	resp2, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stream without a session: %d", resp2.StatusCode)
	}
}

func TestAgentsSuspendRevoke(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	c := e.client()
	tok, err := c.Exchange(ctx, e.keys["bot"])
	if err != nil {
		t.Fatal(err)
	}
	tokA, hopA, err := c.Delegate(ctx, tok, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokB, hopB, err := c.Delegate(ctx, tok, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokA1, hopA1, err := c.Delegate(ctx, tokA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("alice")
	p := b.do("GET", "/ui/agents", nil)
	for _, id := range []string{hopA.ID, hopB.ID, hopA1.ID, e.ids["bot"]} {
		if !strings.Contains(p.body, `id="node-`+id+`"`) {
			t.Errorf("agents page lacks node %s", id)
		}
	}
	p = b.do("GET", "/ui/revoke?id="+hopA.ID, nil)
	if !strings.Contains(p.body, `<strong id="live-below">1</strong> live descendant`) {
		t.Fatalf("confirm page does not count one live descendant: %s", p.body)
	}
	p = b.do("GET", "/ui/revoke?id="+e.ids["bot"], nil)
	if !strings.Contains(p.body, `<strong id="live-below">4</strong>`) { // token, A, B, A1
		t.Fatalf("confirm page for the key: %s", p.body)
	}
	p = b.do("POST", "/ui/revoke", url.Values{"csrf": {b.csrf()}, "id": {hopA.ID}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	check := func(cred string) agenttrust.Effect {
		d, _ := c.Check(ctx, agenttrust.Request{Credential: cred, Tool: "docs.read"})
		return d.Effect
	}
	if check(tokA) != agenttrust.Deny || check(tokA1) != agenttrust.Deny || check(tokB) != agenttrust.Allow {
		t.Fatalf("after revoking A: A %v, A1 %v, B %v", check(tokA), check(tokA1), check(tokB))
	}
	p = b.do("GET", "/ui/agents", nil)
	for id, want := range map[string]string{hopA.ID: "revoked", hopA1.ID: "revoked", hopB.ID: "live"} {
		if !strings.Contains(p.body, `id="node-`+id+`" data-status="`+want+`"`) {
			t.Errorf("node %s is not shown %s", id, want)
		}
	}
	// Suspend, and the agent's next check denies; resume.
	b.do("POST", "/ui/agents/suspend", url.Values{"csrf": {b.csrf()}, "id": {"bot2"}, "reason": {"runaway"}})
	d, _ := c.Check(ctx, agenttrust.Request{Credential: e.keys["bot2"], Tool: "docs.read"})
	if d.Allowed() {
		t.Fatal("suspended agent allowed")
	}
	if p := b.do("GET", "/ui/agents", nil); !strings.Contains(p.body, "runaway") {
		t.Error("suspension reason not shown")
	}
	b.do("POST", "/ui/agents/resume", url.Values{"csrf": {b.csrf()}, "id": {"bot2"}})
	if d, _ = c.Check(ctx, agenttrust.Request{Credential: e.keys["bot2"], Tool: "docs.read"}); !d.Allowed() {
		t.Fatalf("resumed agent denied: %v %s", d, e.logBuf.String())
	}
	if !strings.Contains(e.logBuf.String(), "action=suspend target=bot2") || !strings.Contains(e.logBuf.String(), "action=revoke target="+hopA.ID) {
		t.Errorf("actions not logged: %s", e.logBuf.String())
	}
	e.wantOperatorRecord("agenttrust.revoke", hopA.ID, "alice")
	e.wantOperatorRecord("agenttrust.suspend", "bot2", "alice")
	e.wantOperatorRecord("agenttrust.resume", "bot2", "alice")
}

func TestActivity(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	for _, tool := range []string{"docs.read", "docs.read", "nothing.matches"} {
		e.client().Check(ctx, agenttrust.Request{Credential: e.keys["bot"], Tool: tool})
	}
	if err := e.client().SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("carol")
	p := b.do("GET", "/ui/activity", nil)
	// The three checks, after the fixture's seven operator records (six
	// keys, one policy), which the activity shows too.
	if strings.Count(p.body, `class="decision `) != 10 || !strings.Contains(p.body, "verified, 10 records") ||
		!strings.Contains(p.body, "agenttrust.create_key") || !strings.Contains(p.body, "agenttrust.save_policy") {
		t.Fatalf("activity: %s", p.body)
	}
	p = b.do("GET", "/ui/activity?effect=deny", nil)
	if strings.Count(p.body, `class="decision `) != 1 || !strings.Contains(p.body, "nothing.matches") {
		t.Fatalf("filtered: %s", p.body)
	}
	p = b.do("GET", "/ui/activity?rule=read", nil)
	if strings.Count(p.body, `class="decision `) != 2 {
		t.Fatalf("rule filter: %s", p.body)
	}
	if p = b.do("GET", "/ui/activity?effect=bogus", nil); !strings.Contains(p.body, "Filter refused") {
		t.Fatalf("bad filter: %d %s", p.status, p.body)
	}
}
