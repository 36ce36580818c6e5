package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

const testIssuer = "https://at.example"

// newOAuthEnv is newEnv with an issuer and one more audience.
func newOAuthEnv(t testing.TB) *env {
	t.Helper()
	return newEnv(t, WithIssuer(testIssuer), WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{"https://mail.example"}})))
}

// token posts a form to the token endpoint, with Basic credentials when
// basic is "id:secret".
func (e *env) token(basic string, form url.Values) resp {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.ts.URL+oauthTokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		id, secret, _ := strings.Cut(basic, ":")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// issued is a successful token response, decoded, with the JWT's claims.
type issued struct {
	token     string
	expiresIn float64
	scope     string
	claims    map[string]any
}

func (e *env) mustToken(basic string, form url.Values) issued {
	e.t.Helper()
	r := e.token(basic, form)
	if r.status != 200 {
		e.t.Fatalf("token: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		e.t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	m := r.json(e.t)
	if m["token_type"] != "Bearer" {
		e.t.Errorf("token_type %v", m["token_type"])
	}
	out := issued{token: m["access_token"].(string), expiresIn: m["expires_in"].(float64), scope: m["scope"].(string)}
	out.claims = jwtPayload(e.t, out.token)
	return out
}

func jwtPayload(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestOAuthMetadata(t *testing.T) {
	e := newOAuthEnv(t)
	m := e.must(200, "GET", oauthMetadataPath, "", nil).json(t)
	want := map[string]any{
		"issuer":                 testIssuer,
		"token_endpoint":         testIssuer + "/oauth/token",
		"authorization_endpoint": testIssuer + "/oauth/authorize",
		"jwks_uri":               testIssuer + "/.well-known/jwks.json",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	for k, v := range map[string]string{
		"grant_types_supported":                 "client_credentials urn:ietf:params:oauth:grant-type:token-exchange",
		"token_endpoint_auth_methods_supported": "client_secret_basic client_secret_post",
		"response_types_supported":              "",
		"scopes_supported":                      "agent",
	} {
		var got []string
		for _, x := range m[k].([]any) {
			got = append(got, x.(string))
		}
		if strings.Join(got, " ") != v {
			t.Errorf("%s = %v, want %s", k, got, v)
		}
	}
	// The authorization endpoint is named, as clients demand, but there is
	// none: no response type is supported.
	if r := e.do("GET", oauthAuthorizePath+"?response_type=code&client_id=bot", "", nil); r.status != 404 {
		t.Errorf("authorize: %d %s", r.status, r.body)
	}

	// Without an issuer there is no authorization server to describe.
	plain := newEnv(t)
	if r := plain.do("GET", oauthMetadataPath, "", nil); r.status != 404 {
		t.Errorf("metadata without issuer: %d", r.status)
	}
	if r := plain.token("bot:"+plain.key("acme/bot"), form("grant_type", "client_credentials")); r.status != 404 {
		t.Errorf("token without issuer: %d %s", r.status, r.body)
	}
}

func TestWithIssuerRefuses(t *testing.T) {
	for _, iss := range []string{"", "at.example", "ftp://at.example", "https://", "https://at.example/path",
		"https://at.example?q=1", "https://at.example#f", "https://u:p@at.example", "https://at.example?"} {
		if _, err := New(newMemoryStore(), WithIssuer(iss)); !errors.Is(err, agenttrust.ErrInvalidConfig) {
			t.Errorf("WithIssuer(%q): %v", iss, err)
		}
	}
	for in, want := range map[string]string{"https://at.example/": "https://at.example", "http://127.0.0.1:8480": "http://127.0.0.1:8480"} {
		if got, err := parseIssuer(in); err != nil || got != want {
			t.Errorf("parseIssuer(%q) = %q, %v", in, got, err)
		}
	}
}

func TestOAuthClientCredentials(t *testing.T) {
	e := newOAuthEnv(t)
	ctx := context.Background()
	bot := e.key("acme/bot")
	for _, tc := range []struct {
		name  string
		basic string
		form  url.Values
		aud   string
	}{
		{"basic", "bot:" + bot, form("grant_type", "client_credentials"), testIssuer},
		{"post", "", form("grant_type", "client_credentials", "client_id", "bot", "client_secret", bot), testIssuer},
		{"resource", "bot:" + bot, form("grant_type", "client_credentials", "resource", "https://mail.example"), "https://mail.example"},
		{"audience", "bot:" + bot, form("grant_type", "client_credentials", "audience", "https://mail.example"), "https://mail.example"},
		{"scope", "bot:" + bot, form("grant_type", "client_credentials", "scope", "agent"), testIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.mustToken(tc.basic, tc.form)
			c := got.claims
			if c["iss"] != testIssuer || c["sub"] != "bot" || c["tenant"] != "acme" || c["key"] != e.ids["acme/bot"] {
				t.Errorf("claims %v", c)
			}
			if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != tc.aud {
				t.Errorf("aud %v, want %s", c["aud"], tc.aud)
			}
			if got.scope != "agent" || got.expiresIn != defaultTokenTTL.Seconds() {
				t.Errorf("scope %q expires_in %v", got.scope, got.expiresIn)
			}
			// The server's own check accepts the JWT for either audience
			// it was told of.
			if d := e.check(got.token, map[string]any{"tool_name": "docs.read"}); d["allowed"] != true {
				t.Errorf("check with the JWT: %v", d)
			}
		})
	}

	// An admin key: the token acts as an agent only.
	admin := e.mustToken("alice:"+e.key("acme/alice"), form("grant_type", "client_credentials"))
	if admin.scope != "agent" {
		t.Errorf("admin's scope %q", admin.scope)
	}
	if r := e.do("GET", "/v1/keys", admin.token, nil); r.status != 403 {
		t.Errorf("admin's JWT lists keys: %d", r.status)
	}
	who := e.must(200, "GET", "/v1/whoami", admin.token, nil).json(t)
	if roles, _ := who["roles"].([]any); len(roles) != 1 || roles[0] != "agent" {
		t.Errorf("admin's JWT roles %v", who["roles"])
	}

	// The hop the endpoint recorded kills the JWT when revoked.
	hops := who["hop_ids"].([]any)
	c, err := e.srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, hops[0].(string)); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/v1/whoami", admin.token, nil); r.status != 401 {
		t.Errorf("JWT after its hop is revoked: %d", r.status)
	}

	// An approver key holds no agent role to give.
	r := e.token("carol:"+e.key("acme/carol"), form("grant_type", "client_credentials"))
	if r.status != 400 || r.json(t)["error"] != "unauthorized_client" {
		t.Errorf("approver: %d %s", r.status, r.body)
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	e := newOAuthEnv(t)
	ctx := context.Background()
	bot := e.key("acme/bot")
	tok := e.exchange(bot)
	c, err := e.srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	mailJWT, err := c.ExchangeJWT(ctx, bot, "https://mail.example")
	if err != nil {
		t.Fatal(err)
	}
	revoked := e.createKey(ctx, "acme", "gone", agenttrust.KeySpec{AgentID: "bot", Roles: []string{"agent"}})
	if err := c.Revoke(ctx, e.ids["acme/gone"]); err != nil {
		t.Fatal(err)
	}
	const xch = grantTokenExchange
	cases := []struct {
		name   string
		ctype  string // default form
		basic  string
		auth   string // a raw Authorization header
		body   string // default: form
		form   url.Values
		status int
		code   string
	}{
		{name: "json body", ctype: "application/json", body: `{"grant_type":"client_credentials"}`, status: 400, code: "invalid_request"},
		{name: "no grant", form: form("client_id", "bot"), status: 400, code: "invalid_request"},
		{name: "unknown grant", form: form("grant_type", "password", "username", "a", "password", "b"), status: 400, code: "unsupported_grant_type"},
		{name: "code grant", form: form("grant_type", "authorization_code", "code", "x"), status: 400, code: "unsupported_grant_type"},
		{name: "grant twice", body: "grant_type=client_credentials&grant_type=client_credentials", status: 400, code: "invalid_request"},
		{name: "secret as a repeated name", body: "grant_type=client_credentials&" + url.QueryEscape(bot) + "=1&" + url.QueryEscape(bot) + "=2", status: 400, code: "invalid_request"},
		{name: "bad form", body: "grant_type=%zz", status: 400, code: "invalid_request"},
		{name: "body too large", body: "grant_type=client_credentials&x=" + strings.Repeat("a", maxTokenRequest), status: 400, code: "invalid_request"},

		{name: "cc no client", form: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "cc no secret", form: form("grant_type", "client_credentials", "client_id", "bot"), status: 401, code: "invalid_client"},
		{name: "cc no client id", form: form("grant_type", "client_credentials", "client_secret", bot), status: 400, code: "invalid_request"},
		{name: "cc wrong client id", basic: "bot2:" + bot, form: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "cc key id as client id", basic: e.ids["acme/bot"] + ":" + bot, form: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "cc bad secret", basic: "bot:atk_000000000000000000000000000000AAAAAA", form: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "cc token as secret", basic: "bot:" + tok, form: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "cc revoked key", basic: "bot:" + revoked, form: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "cc basic and post", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "client_secret", bot), status: 400, code: "invalid_request"},
		{name: "cc basic id differs", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "client_id", "bot2"), status: 400, code: "invalid_request"},
		{name: "cc bearer scheme", auth: "Bearer " + bot, form: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "cc malformed basic", auth: "Basic !!!", form: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "cc scope", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "scope", "admin"), status: 400, code: "invalid_scope"},
		{name: "cc bad caveat", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "caveat", "tool ~ x"), status: 400, code: "invalid_request"},
		{name: "cc relative resource", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "resource", "/mcp"), status: 400, code: "invalid_target"},
		{name: "cc resource fragment", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "resource", "https://m.example/#x"), status: 400, code: "invalid_target"},
		{name: "cc two resources", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "resource", "https://a.example", "resource", "https://b.example"), status: 400, code: "invalid_request"},
		{name: "cc resource and audience differ", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "resource", "https://a.example", "audience", "https://b.example"), status: 400, code: "invalid_target"},
		{name: "cc long resource", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "resource", "https://m.example/"+strings.Repeat("a", 256)), status: 400, code: "invalid_target"},
		{name: "cc long audience", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "audience", strings.Repeat("a", 257)), status: 400, code: "invalid_target"},
		{name: "cc empty resource", basic: "bot:" + bot, form: form("grant_type", "client_credentials", "resource", ""), status: 400, code: "invalid_target"},

		{name: "tx no subject", form: form("grant_type", xch, "subject_token_type", tokenTypeAccess), status: 400, code: "invalid_request"},
		{name: "tx no subject type", form: form("grant_type", xch, "subject_token", tok), status: 400, code: "invalid_request"},
		{name: "tx bad subject type", form: form("grant_type", xch, "subject_token", tok, "subject_token_type", "urn:ietf:params:oauth:token-type:id_token"), status: 400, code: "invalid_request"},
		{name: "tx bad requested type", form: form("grant_type", xch, "subject_token", tok, "subject_token_type", tokenTypeAccess, "requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), status: 400, code: "invalid_request"},
		{name: "tx actor", form: form("grant_type", xch, "subject_token", tok, "subject_token_type", tokenTypeAccess, "actor_token", tok, "actor_token_type", tokenTypeAccess), status: 400, code: "invalid_request"},
		{name: "tx api key subject", form: form("grant_type", xch, "subject_token", bot, "subject_token_type", tokenTypeAccess), status: 400, code: "invalid_grant"},
		{name: "tx forged subject", form: form("grant_type", xch, "subject_token", tok[:len(tok)-4]+"AAAA", "subject_token_type", tokenTypeAccess), status: 400, code: "invalid_grant"},
		{name: "tx garbage subject", form: form("grant_type", xch, "subject_token", "hello", "subject_token_type", tokenTypeAccess), status: 400, code: "invalid_grant"},
		{name: "tx wrong client id", form: form("grant_type", xch, "subject_token", tok, "subject_token_type", tokenTypeAccess, "client_id", "bot2"), status: 401, code: "invalid_client"},
		{name: "tx other agent's secret", basic: "bot:" + e.key("acme/bot2"), form: form("grant_type", xch, "subject_token", tok, "subject_token_type", tokenTypeAccess), status: 401, code: "invalid_client"},
		{name: "tx bad secret", basic: "bot:atk_000000000000000000000000000000AAAAAA", form: form("grant_type", xch, "subject_token", tok, "subject_token_type", tokenTypeAccess), status: 401, code: "invalid_client"},
		{name: "tx secret without id", form: form("grant_type", xch, "subject_token", tok, "subject_token_type", tokenTypeAccess, "client_secret", bot), status: 400, code: "invalid_request"},
		{name: "tx JWT to another audience", form: form("grant_type", xch, "subject_token", mailJWT, "subject_token_type", tokenTypeJWT, "resource", "https://cal.example"), status: 400, code: "invalid_target"},
		{name: "tx JWT to the issuer", form: form("grant_type", xch, "subject_token", mailJWT, "subject_token_type", tokenTypeJWT), status: 400, code: "invalid_target"},
		{name: "tx other tenant's token", form: form("grant_type", xch, "subject_token", e.exchange(e.key("globex/gbot")), "subject_token_type", tokenTypeAccess, "client_id", "bot"), status: 401, code: "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == "" {
				body = tc.form.Encode()
			}
			req, err := http.NewRequest("POST", e.ts.URL+oauthTokenPath, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			ct := tc.ctype
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			if tc.basic != "" {
				id, secret, _ := strings.Cut(tc.basic, ":")
				req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			res, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var oe struct {
				Error string `json:"error"`
				Desc  string `json:"error_description"`
			}
			if err := json.Unmarshal(b, &oe); err != nil {
				t.Fatalf("%d %s", res.StatusCode, b)
			}
			if res.StatusCode != tc.status || oe.Error != tc.code {
				t.Fatalf("got %d %s, want %d %s", res.StatusCode, b, tc.status, tc.code)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
			}
			if (tc.status == 401) != strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
			}
			for _, secret := range []string{bot, tok, mailJWT, revoked} {
				if strings.Contains(string(b), secret) {
					t.Errorf("the answer holds a credential: %s", b)
				}
			}
		})
	}
}

func TestAttackOAuthExchange(t *testing.T) {
	e := newOAuthEnv(t)
	ctx := context.Background()
	c, err := e.srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	bot := e.key("acme/bot")
	exchange := func(subject, typ string, kv ...string) resp {
		return e.token("", form(append([]string{"grant_type", grantTokenExchange, "subject_token", subject, "subject_token_type", typ}, kv...)...))
	}
	mustExchange := func(subject, typ string, kv ...string) issued {
		t.Helper()
		r := exchange(subject, typ, kv...)
		if r.status != 200 {
			t.Fatalf("exchange: %d %s", r.status, r.body)
		}
		m := r.json(t)
		return issued{token: m["access_token"].(string), expiresIn: m["expires_in"].(float64), scope: m["scope"].(string),
			claims: jwtPayload(t, m["access_token"].(string))}
	}
	checkTool := func(cred, tool string) (int, map[string]any) {
		r := e.do("POST", "/v1/actions/check", cred, map[string]any{"tool_name": tool})
		return r.status, r.json(t)
	}

	t.Run("narrowed token cannot widen", func(t *testing.T) {
		narrow, err := agenttrust.Attenuate(e.exchange(bot), "tool in docs.read")
		if err != nil {
			t.Fatal(err)
		}
		got := mustExchange(narrow, tokenTypeAccess, "resource", "https://mail.example", "client_id", "bot")
		cavs := got.claims["caveats"].([]any)
		var hasTool bool
		for _, cv := range cavs {
			hasTool = hasTool || cv == "tool in docs.read"
		}
		if !hasTool {
			t.Fatalf("the caveat did not carry over: %v", cavs)
		}
		if _, d := checkTool(got.token, "docs.read"); d["allowed"] != true {
			t.Errorf("docs.read: %v", d)
		}
		if _, d := checkTool(got.token, "payments.charge"); d["allowed"] == true || d["effect"] == "needs_approval" {
			t.Errorf("payments.charge through the narrowed JWT: %v", d)
		}
		// Exchanging the exchanged JWT again (for its own audience) keeps the caveat.
		again := mustExchange(got.token, tokenTypeJWT, "resource", "https://mail.example", "caveat", "resource in doc:1")
		if _, d := checkTool(again.token, "payments.charge"); d["allowed"] == true || d["effect"] == "needs_approval" {
			t.Errorf("payments.charge through the twice narrowed JWT: %v", d)
		}
		if hops := len(jwtPayload(t, again.token)["caveats"].([]any)); hops <= len(cavs) {
			t.Errorf("the second exchange added no caveat: %d <= %d", hops, len(cavs))
		}
		// And what it narrows with sticks.
		if r := e.do("POST", "/v1/actions/check", again.token, map[string]any{"tool_name": "docs.read", "resource": "doc:2"}); r.json(t)["allowed"] == true {
			t.Errorf("the exchange's own caveat does not hold: %s", r.body)
		}
	})

	t.Run("admin token stays an agent", func(t *testing.T) {
		admin := e.exchange(e.key("acme/alice"))
		got := mustExchange(admin, tokenTypeAccess)
		if r := e.do("POST", "/v1/keys", got.token, map[string]any{"agent_id": "evil", "roles": []string{"admin"}}); r.status != 403 {
			t.Errorf("an exchanged admin token makes keys: %d %s", r.status, r.body)
		}
	})

	t.Run("expired subject", func(t *testing.T) {
		short, err := agenttrust.Attenuate(e.exchange(bot), "expires < "+e.clock.Now().Add(time.Minute).Format(time.RFC3339))
		if err != nil {
			t.Fatal(err)
		}
		got := mustExchange(short, tokenTypeAccess)
		if exp := int64(got.claims["exp"].(float64)); exp > e.clock.Now().Add(time.Minute).Unix() {
			t.Errorf("exp %d beyond the subject's", exp)
		}
		if got.expiresIn > 60 {
			t.Errorf("expires_in %v beyond the subject's", got.expiresIn)
		}
		e.clock.Advance(2 * time.Minute)
		defer e.clock.Advance(-2 * time.Minute)
		if r := exchange(short, tokenTypeAccess); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
			t.Errorf("expired subject: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/actions/check", got.token, map[string]any{"tool_name": "docs.read"}); r.status != 401 {
			t.Errorf("the exchanged JWT outlived its subject: %d %s", r.status, r.body)
		}
	})

	t.Run("JWT keeps its expiry bound", func(t *testing.T) {
		j, err := c.ExchangeJWT(ctx, bot, testIssuer, "expires < "+e.clock.Now().Add(90*time.Second).Format(time.RFC3339))
		if err != nil {
			t.Fatal(err)
		}
		got := mustExchange(j, tokenTypeJWT, "requested_token_type", tokenTypeJWT)
		if exp := int64(got.claims["exp"].(float64)); exp > e.clock.Now().Add(90*time.Second).Unix() {
			t.Errorf("exp %d beyond the subject's bound", exp)
		}
		e.clock.Advance(2 * time.Minute)
		defer e.clock.Advance(-2 * time.Minute)
		if r := e.do("GET", "/v1/whoami", got.token, nil); r.status != 401 {
			t.Errorf("the exchanged JWT outlived its subject: %d", r.status)
		}
	})

	t.Run("revoked subject", func(t *testing.T) {
		tok := e.exchange(bot)
		got := mustExchange(tok, tokenTypeAccess)
		info, err := agenttrust.InspectTokenUnverified(tok)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Revoke(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		if r := exchange(tok, tokenTypeAccess); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
			t.Errorf("revoked subject: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/v1/whoami", got.token, nil); r.status != 401 {
			t.Errorf("the JWT outlived its revoked subject: %d", r.status)
		}
	})

	t.Run("revoked hop of the subject", func(t *testing.T) {
		tok, hop, err := c.Delegate(ctx, e.exchange(bot), 0, "tool in docs.read")
		if err != nil {
			t.Fatal(err)
		}
		got := mustExchange(tok, tokenTypeAccess)
		if err := c.Revoke(ctx, hop.ID); err != nil {
			t.Fatal(err)
		}
		if r := e.do("GET", "/v1/whoami", got.token, nil); r.status != 401 {
			t.Errorf("the JWT outlived its subject's revoked hop: %d", r.status)
		}
	})

	t.Run("suspended agent", func(t *testing.T) {
		tok := e.exchange(e.key("acme/bot2"))
		if err := c.Suspend(ctx, "bot2", "test"); err != nil {
			t.Fatal(err)
		}
		defer c.Resume(ctx, "bot2")
		if r := exchange(tok, tokenTypeAccess); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
			t.Errorf("suspended agent: %d %s", r.status, r.body)
		}
	})

	t.Run("depth", func(t *testing.T) {
		tok := e.exchange(bot)
		var err error
		for range maxDelegationDepth {
			if tok, err = agenttrust.Attenuate(tok); err != nil {
				t.Fatal(err)
			}
		}
		if r := exchange(tok, tokenTypeAccess); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
			t.Errorf("too deep: %d %s", r.status, r.body)
		}
	})
}

// FuzzTokenRequest: whatever body and Authorization header a token
// request has, the answer is a token (only for the one valid secret) or
// an RFC 6749 error, never a 5xx, and never echoes the secret.
func FuzzTokenRequest(f *testing.F) {
	e := newOAuthEnv(f)
	bot := e.key("acme/bot")
	for _, seed := range []struct{ body, auth string }{
		{"grant_type=client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("bot:"+bot))},
		{"grant_type=client_credentials&client_id=bot&client_secret=" + url.QueryEscape(bot), ""},
		{"grant_type=client_credentials&client_id=bot&client_secret=" + url.QueryEscape(bot) + "&resource=https%3A%2F%2Fm.example&caveat=tool+in+docs.read", ""},
		{"grant_type=" + url.QueryEscape(grantTokenExchange) + "&subject_token=att_x&subject_token_type=" + url.QueryEscape(tokenTypeAccess), ""},
		{"grant_type=%zz", "Basic !!"},
		{"grant_type=client_credentials&grant_type=x", "Basic Ym90Og=="},
		{"", ""},
	} {
		f.Add(seed.body, seed.auth)
	}
	f.Fuzz(func(t *testing.T, body, authz string) {
		req := httptest.NewRequest("POST", oauthTokenPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%d, not JSON: %s", w.Code, w.Body)
		}
		if w.Code == 200 {
			if _, ok := m["access_token"].(string); !ok {
				t.Fatalf("200 without a token: %s", w.Body)
			}
		} else if code, _ := m["error"].(string); code == "" {
			t.Fatalf("%d without an OAuth error: %s", w.Code, w.Body)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", w.Header().Get("Cache-Control"))
		}
		if strings.Contains(w.Body.String(), bot) {
			t.Fatalf("the answer holds the secret: %s", w.Body)
		}
	})
}
