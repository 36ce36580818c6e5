package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAttackMintUnauditedHTTP: every route that mints a credential (the
// token exchange, in both formats, delegation, and both grants of the
// token endpoint) leaves one record in the tenant's chain, before the
// credential is answered, naming the caller the server authenticated,
// the agent the credential acts as and its id; and the credential, the
// key or token it was made from and the JWT's signature appear in no
// answer of the audit API: query, stream or verify.
func TestAttackMintUnauditedHTTP(t *testing.T) {
	e := newOAuthEnv(t)
	alice, bot := e.key("acme/alice"), e.key("acme/bot")
	botTok := e.exchange(bot)
	botTokID := e.must(200, "POST", "/v1/tokens/inspect", alice, map[string]any{"token": botTok}).json(t)["id"].(string)
	cases := []struct {
		name string
		tool string
		// mint returns the credential minted, the credential it was made
		// from and the id its record must name ("" for a hop: checked
		// against the token's last hop).
		mint  func(t *testing.T) (cred, from, id string)
		agent string // who the record names as minting it
	}{
		{"exchange", "agenttrust.exchange", func(t *testing.T) (string, string, string) {
			m := e.must(201, "POST", "/v1/tokens", bot, map[string]any{"caveats": []string{"tool in docs.read"}}).json(t)
			return m["token"].(string), bot, m["token_id"].(string)
		}, "bot"},
		{"exchange jwt", "agenttrust.exchange_jwt", func(t *testing.T) (string, string, string) {
			m := e.must(201, "POST", "/v1/tokens", bot, map[string]any{"format": "jwt", "audience": testIssuer}).json(t)
			return m["token"].(string), bot, m["token_id"].(string)
		}, "bot"},
		{"delegate by the holder", "agenttrust.delegate", func(t *testing.T) (string, string, string) {
			m := e.must(201, "POST", "/v1/tokens/delegate", botTok, map[string]any{"caveats": []string{"tool in docs.read"}}).json(t)
			return m["token"].(string), botTok, m["hop"].(map[string]any)["id"].(string)
		}, "bot"},
		{"delegate by an admin", "agenttrust.delegate", func(t *testing.T) (string, string, string) {
			m := e.must(201, "POST", "/v1/tokens/delegate", alice, map[string]any{"token": botTok, "ttl_seconds": 60}).json(t)
			return m["token"].(string), botTok, m["hop"].(map[string]any)["id"].(string)
		}, "alice"},
		{"client credentials", "agenttrust.narrow_jwt", func(t *testing.T) (string, string, string) {
			is := e.mustToken("bot:"+bot, form("grant_type", grantClientCredentials))
			return is.token, bot, hopOfJWT(t, is.claims)
		}, "bot"},
		{"token exchange", "agenttrust.narrow_jwt", func(t *testing.T) (string, string, string) {
			is := e.mustToken("", form("grant_type", grantTokenExchange, "subject_token", botTok, "subject_token_type", tokenTypeAccess))
			return is.token, botTok, hopOfJWT(t, is.claims)
		}, "bot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.sync()
			before := e.must(200, "GET", "/v1/audit", alice, nil).json(t)["records"].([]any)
			cred, from, id := tc.mint(t)
			e.sync()
			recs := e.must(200, "GET", "/v1/audit", alice, nil).json(t)["records"].([]any)[len(before):]
			var got []map[string]any
			for _, r := range recs {
				if m := r.(map[string]any); m["tool"] == tc.tool {
					got = append(got, m)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d %s records, want 1: %v", len(got), tc.tool, recs)
			}
			r := got[0]
			attrs, _ := r["attributes"].(map[string]any)
			if r["effect"] != "allow" || r["resource"] != id || r["agent_id"] != tc.agent ||
				r["credential_id"] != e.ids["acme/"+tc.agent] || attrs["agent_id"] != "bot" {
				t.Errorf("record %v, want %s minting %s for bot", r, tc.agent, id)
			}
			if strings.HasPrefix(from, "att_") && attrs["from"] != botTokID {
				t.Errorf("record names %v as the source, want %s", attrs["from"], botTokID)
			}
			stream := streamed(t, e, alice)
			if !strings.Contains(stream, r["id"].(string)) {
				t.Errorf("the stream did not send the record %v", r["id"])
			}
			all := string(e.must(200, "GET", "/v1/audit", alice, nil).body) +
				string(e.must(200, "GET", "/v1/audit/verify", alice, nil).body) + stream
			secrets := map[string]string{"minted credential": cred, "source credential": from}
			if i := strings.LastIndexByte(cred, '.'); i > 0 {
				secrets["JWT signature"] = cred[i+1:]
			}
			for name, s := range secrets {
				if strings.Contains(all, s) {
					t.Errorf("the %s is in an answer of the audit API", name)
				}
			}
		})
	}
}

// hopOfJWT returns the hop a JWT's caveats end their hops with.
func hopOfJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	hop := ""
	cavs, _ := claims["caveats"].([]any)
	for _, c := range cavs {
		if s, _ := c.(string); strings.HasPrefix(s, "hop = ") {
			hop = strings.TrimPrefix(s, "hop = ")
		}
	}
	if hop == "" {
		t.Fatalf("JWT claims %v name no hop", claims)
	}
	return hop
}

// streamed reads what the audit stream sends for a moment.
func streamed(t *testing.T, e *env, cred string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/audit/stream?since="+url.QueryEscape(e.clock.Now().Add(-time.Hour).Format(time.RFC3339Nano)), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestAttackMintAudienceSpoofHTTP: a JWT asked for an audience that
// looks like another (an invisible character, a decomposed letter) is
// refused on every route that mints one, with the error its route
// answers, and nothing is recorded.
func TestAttackMintAudienceSpoofHTTP(t *testing.T) {
	e := newOAuthEnv(t)
	alice, bot := e.key("acme/alice"), e.key("acme/bot")
	botTok := e.exchange(bot)
	for _, aud := range []string{"https://mail.example\u200b", "https://cafe\u0301.example", "https://mail.example\u00a0"} {
		t.Run(url.QueryEscape(aud), func(t *testing.T) {
			e.sync()
			before := len(e.must(200, "GET", "/v1/audit", alice, nil).json(t)["records"].([]any))
			r := e.do("POST", "/v1/tokens", bot, map[string]any{"format": "jwt", "audience": aud})
			if r.status != http.StatusBadRequest || r.code(t) != "invalid_request" {
				t.Errorf("POST /v1/tokens: %d %s, want 400 invalid_request", r.status, r.body)
			}
			for _, f := range []url.Values{
				form("grant_type", grantClientCredentials, "audience", aud),
				form("grant_type", grantTokenExchange, "subject_token", botTok, "subject_token_type", tokenTypeAccess, "audience", aud),
			} {
				r := e.token("bot:"+bot, f)
				var body struct {
					Error string `json:"error"`
				}
				json.Unmarshal(r.body, &body)
				if r.status != http.StatusBadRequest || body.Error != "invalid_request" {
					t.Errorf("%s: %d %s, want 400 invalid_request", f.Get("grant_type"), r.status, r.body)
				}
			}
			e.sync()
			if after := len(e.must(200, "GET", "/v1/audit", alice, nil).json(t)["records"].([]any)); after != before {
				t.Errorf("%d records of refused mints", after-before)
			}
		})
	}
}
