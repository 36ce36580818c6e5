package server

import (
	"net/url"
	"strings"
	"testing"
)

// TestAttackErrorBodyEchoesCredential: an error body quoted what the
// request held where it was refused (a caveat that does not parse, a
// JSON member name, a duplicated attribute), credentials included: an
// agent that put a key, a token or a JWT in a caveat or used one as an
// attribute's name got it back in the API's error and in the token
// endpoint's error_description, which §16 promises never holds one.
// Error bodies are what gateways and proxies log and what a tool's error
// shows a model. The refusal must stay a 400 of the same code, with no
// credential in it.
func TestAttackErrorBodyEchoesCredential(t *testing.T) {
	e := newOAuthEnv(t)
	bot := e.key("acme/bot")
	alice := e.key("acme/alice")
	tok := e.exchange(bot)
	jwt := e.mustToken("", url.Values{"grant_type": {"client_credentials"}, "client_id": {"bot"}, "client_secret": {bot}}).token
	creds := map[string]string{"key": alice, "token": tok, "jwt": jwt}
	const cc = "client_credentials"
	const te = "urn:ietf:params:oauth:grant-type:token-exchange"
	const access = "urn:ietf:params:oauth:token-type:access_token"
	for cname, cred := range creds {
		for _, tc := range []struct {
			name, path, body string
			form             url.Values
			code             string
			keyOnly          bool // the message cuts a longer name to its start, which is secret only in a key
		}{
			{name: "check: member named by it", path: "/v1/actions/check", body: `{"tool_name":"t","` + cred + `":1}`, code: "unknown_field", keyOnly: true},
			{name: "check: attribute named by it twice", path: "/v1/actions/check", body: `{"tool_name":"t","attributes":{"` + cred + `":1,"` + cred + `":2}}`, code: "invalid_json"},
			{name: "tokens: caveat", path: "/v1/tokens", body: `{"caveats":["` + cred + `"]}`, code: "caveat"},
			{name: "tokens: caveat's value", path: "/v1/tokens", body: `{"caveats":["resource = ` + cred + `\u0000"]}`, code: "caveat"},
			{name: "tokens: caveat cut inside it", path: "/v1/tokens", body: `{"caveats":["resource = ` + strings.Repeat("a", 50) + cred + `\u0000"]}`, code: "caveat"},
			{name: "delegate: caveat", path: "/v1/tokens/delegate", body: `{"token":"` + tok + `","caveats":["` + cred + `"]}`, code: "caveat"},
			{name: "oauth: caveat", form: url.Values{"grant_type": {cc}, "client_id": {"bot"}, "client_secret": {bot}, "caveat": {cred}}, code: "invalid_request"},
			{name: "oauth: caveat's value", form: url.Values{"grant_type": {cc}, "client_id": {"bot"}, "client_secret": {bot}, "caveat": {"resource = " + cred + "\x00"}}, code: "invalid_request"},
			{name: "oauth: caveat cut inside it", form: url.Values{"grant_type": {cc}, "client_id": {"bot"}, "client_secret": {bot}, "caveat": {"resource = " + strings.Repeat("a", 50) + cred + "\x00"}}, code: "invalid_request"},
			{name: "oauth exchange: caveat", form: url.Values{"grant_type": {te}, "subject_token": {tok}, "subject_token_type": {access}, "caveat": {"tool in " + cred + ",x y"}}, code: "invalid_request"},
		} {
			if tc.keyOnly && cname != "key" {
				continue
			}
			t.Run(cname+" "+tc.name, func(t *testing.T) {
				var r resp
				var code string
				if tc.form != nil {
					r = e.token("", tc.form)
					code, _ = r.json(t)["error"].(string)
				} else {
					r = e.do("POST", tc.path, bot, tc.body)
					code = r.code(t)
				}
				if r.status != 400 || code != tc.code {
					t.Errorf("status %d code %q, want 400 %q: %s", r.status, code, tc.code, r.body)
				}
				// An API key is secret from its first character; a
				// token's or JWT's start is its identifier or header.
				parts := []string{cred[len(cred)-12:]}
				if cname == "key" {
					parts = append(parts, cred[4:12])
				}
				for _, part := range parts {
					if strings.Contains(string(r.body), part) {
						t.Errorf("the error body holds the credential: %s", r.body)
						break
					}
				}
			})
		}
	}
}
