package server

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/mac"
)

// TestAttackForgedCredentialTenantOracle: a stranger forges tokens and
// JWTs that claim a tenant, and compares the answers. Whether the tenant
// exists must not show: a forgery naming acme, which exists, gets the
// same status, code and message as the same forgery naming a tenant
// that does not, on the API's bearer and on the token endpoint's
// subject_token alike (SECURITY.md section 9).
func TestAttackForgedCredentialTenantOracle(t *testing.T) {
	e := newOAuthEnv(t)
	real := e.exchange(e.key("acme/bot"))
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(real, agenttrust.TokenPrefix))
	if err != nil {
		t.Fatal(err)
	}
	var m mac.Macaroon
	if err := mac.Decode(raw, &m); err != nil {
		t.Fatal(err)
	}
	id := bytes.Clone(m.ID()) // a real token's id: version, ids, master key id

	// forgeToken signs caveats naming tenant with a made-up root key.
	forgeToken := func(tenant, location string, extra ...string) string {
		b, err := mac.New(bytes.Repeat([]byte{7}, 32), id, location)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append([]string{"tenant = " + tenant, "agent = bot", "expires < 2100-01-01T00:00:00Z"}, extra...) {
			if err := b.AddCaveat([]byte(c)); err != nil {
				t.Fatal(err)
			}
		}
		out, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(out)
	}
	var hops []string
	for i := range maxDelegationDepth + 1 {
		hops = append(hops, fmt.Sprintf("hop = hop_%026d", i))
	}
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	forgeJWT := func(header, claims string) string {
		return seg(header) + "." + seg(claims) + "." + seg("not a signature")
	}
	claims := func(tenant, extra string) string {
		return fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"bot","tenant":%q,"exp":4102444800,"jti":"tok_x","key":"key_x"%s}`, testIssuer, testIssuer, tenant, extra)
	}

	for _, tc := range []struct {
		name  string
		forge func(tenant string) string
	}{
		{"jwt_alg_none", func(tn string) string { return forgeJWT(`{"alg":"none","typ":"JWT"}`, claims(tn, "")) }},
		{"jwt_hs256", func(tn string) string { return forgeJWT(`{"alg":"HS256","typ":"JWT","kid":"k"}`, claims(tn, "")) }},
		{"jwt_rs256", func(tn string) string { return forgeJWT(`{"alg":"RS256","typ":"JWT","kid":"k"}`, claims(tn, "")) }},
		{"jwt_duplicate_claim", func(tn string) string {
			return forgeJWT(`{"alg":"EdDSA","typ":"JWT","kid":"k"}`, claims(tn, `,"sub":"alice"`))
		}},
		{"jwt_case_variant_claim", func(tn string) string {
			return forgeJWT(`{"alg":"EdDSA","typ":"JWT","kid":"k"}`, claims(tn, `,"Sub":"alice"`))
		}},
		{"jwt_string_exp", func(tn string) string {
			return forgeJWT(`{"alg":"EdDSA","typ":"JWT","kid":"k"}`, strings.Replace(claims(tn, ""), `"exp":4102444800`, `"exp":"4102444800"`, 1))
		}},
		{"token_with_location", func(tn string) string { return forgeToken(tn, "https://evil.example") }},
		{"token_too_many_hops", func(tn string) string { return forgeToken(tn, "", hops...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onReal, onNone := tc.forge("acme"), tc.forge("nosuch-tenant")
			for _, probe := range []struct {
				name string
				send func(cred string) resp
			}{
				{"bearer", func(cred string) resp { return e.do("GET", "/v1/whoami", cred, nil) }},
				{"subject_token", func(cred string) resp {
					typ := tokenTypeAccess
					if !strings.HasPrefix(cred, agenttrust.TokenPrefix) {
						typ = tokenTypeJWT
					}
					return e.token("", url.Values{"grant_type": {grantTokenExchange}, "subject_token": {cred}, "subject_token_type": {typ}})
				}},
			} {
				a, b := probe.send(onReal), probe.send(onNone)
				if a.status/100 != 4 {
					t.Fatalf("%s: a forgery naming acme got %d: %s", probe.name, a.status, a.body)
				}
				if a.status != b.status || !bytes.Equal(a.body, b.body) {
					t.Errorf("%s: the answer tells that acme exists:\n  acme:    %d %s  unknown: %d %s", probe.name, a.status, a.body, b.status, b.body)
				}
			}
		})
	}
}
