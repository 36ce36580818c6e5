package attack

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store/memory"
)

// signJWT signs claims with method and key, setting kid unless it is "".
func signJWT(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// JWTs are EdDSA only, signed by a known key, for this tenant, issuer and
// audience, within their lifetime; anything else denies with its error.
func TestAttackJWT(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		st := b.open(t)
		clk := newClock()
		c := newClient(t, st, clk, "acme")
		ctx := context.Background()
		key, k := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
		sk := signingKey()
		now := clk.Now()
		claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
			m := jwt.MapClaims{
				"iss": "agenttrust", "sub": "bot", "aud": []string{"agenttrust"},
				"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
				"jti": "tok_attack", "tenant": "acme", "key": k.ID,
			}
			if edit != nil {
				edit(m)
			}
			return m
		}
		eddsa := func(edit func(jwt.MapClaims)) string {
			return signJWT(t, jwt.SigningMethodEdDSA, ed25519.NewKeyFromSeed(sk.Secret), sk.ID, claims(edit))
		}
		// Control: what a node signs is accepted, so each case below is
		// refused for what it changes.
		d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: eddsa(nil)})
		allowed(t, d, err)
		genuine, err := c.ExchangeJWT(ctx, key, "agenttrust")
		if err != nil {
			t.Fatal(err)
		}
		d, err = c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: genuine})
		allowed(t, d, err)

		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(genuine, ".")
		other := strings.Split(eddsa(func(m jwt.MapClaims) { m["jti"] = "tok_other" }), ".")
		payload := func(edit func(jwt.MapClaims)) string {
			// The payload of another, signed JWT, under genuine's signature.
			return strings.Split(eddsa(edit), ".")[1]
		}
		// A tenant with its own signing key on the same store.
		gsk := agenttrust.SecretKey{ID: "sk-globex", Secret: attackerSigningKey().Seed()}
		globex, err := agenttrust.New(st, agenttrust.WithTenant("globex"), agenttrust.WithClock(clk.Now),
			agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{masterKey()}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{gsk}}), agenttrust.WithPolicy(&agenttrust.Policy{}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { globex.Close() })
		gkey, _ := createKey(t, globex, agenttrust.KeySpec{AgentID: "bot"})
		globexJWT, err := globex.ExchangeJWT(ctx, gkey, "agenttrust")
		if err != nil {
			t.Fatal(err)
		}
		// The same tenant name on a store of its own, with the shared key:
		// a valid signature, but for a key this deployment does not have.
		elsewhere := newClient(t, memory.New(), clk, "acme")
		ekey, _ := createKey(t, elsewhere, agenttrust.KeySpec{AgentID: "bot"})
		elsewhereJWT, err := elsewhere.ExchangeJWT(ctx, ekey, "agenttrust")
		if err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name string
			cred string
			want error
		}{
			{"alg_none", signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, sk.ID, claims(nil)), errs.Algorithm},
			{"hs256_keyed_with_public_key", signJWT(t, jwt.SigningMethodHS256, []byte(ed25519.NewKeyFromSeed(sk.Secret).Public().(ed25519.PublicKey)), sk.ID, claims(nil)), errs.Algorithm},
			{"rs256", signJWT(t, jwt.SigningMethodRS256, rsaKey, sk.ID, claims(nil)), errs.Algorithm},
			{"es256", signJWT(t, jwt.SigningMethodES256, ecKey, sk.ID, claims(nil)), errs.Algorithm},
			{"unknown_kid", signJWT(t, jwt.SigningMethodEdDSA, ed25519.NewKeyFromSeed(sk.Secret), "sk-unknown", claims(nil)), errs.BadSignature},
			{"missing_kid", signJWT(t, jwt.SigningMethodEdDSA, ed25519.NewKeyFromSeed(sk.Secret), "", claims(nil)), errs.BadSignature},
			{"known_kid_attacker_key", signJWT(t, jwt.SigningMethodEdDSA, attackerSigningKey(), sk.ID, claims(nil)), errs.BadSignature},
			{"kid_of_another_tenant", globexJWT, errs.BadSignature},
			{"tenant_claim_of_another_tenant", eddsa(func(m jwt.MapClaims) { m["tenant"] = "globex" }), errs.BadSignature},
			{"expired", eddsa(func(m jwt.MapClaims) { m["exp"] = now.Add(-time.Minute).Unix() }), agenttrust.ErrExpired},
			{"nbf_in_future", eddsa(func(m jwt.MapClaims) { m["nbf"] = now.Add(time.Hour).Unix() }), errs.BadSignature},
			{"iat_in_future", eddsa(func(m jwt.MapClaims) { m["iat"] = now.Add(time.Hour).Unix() }), errs.BadSignature},
			{"wrong_audience", eddsa(func(m jwt.MapClaims) { m["aud"] = []string{"https://other.example"} }), errs.Audience},
			{"missing_audience", eddsa(func(m jwt.MapClaims) { delete(m, "aud") }), agenttrust.ErrMalformedCredential},
			{"wrong_issuer", eddsa(func(m jwt.MapClaims) { m["iss"] = "https://evil.example" }), errs.BadSignature},
			{"missing_issuer", eddsa(func(m jwt.MapClaims) { delete(m, "iss") }), agenttrust.ErrMalformedCredential},
			{"missing_exp", eddsa(func(m jwt.MapClaims) { delete(m, "exp") }), agenttrust.ErrMalformedCredential},
			{"missing_sub", eddsa(func(m jwt.MapClaims) { delete(m, "sub") }), agenttrust.ErrMalformedCredential},
			{"missing_jti", eddsa(func(m jwt.MapClaims) { delete(m, "jti") }), agenttrust.ErrMalformedCredential},
			{"signature_stripped", parts[0] + "." + parts[1] + ".", errs.BadSignature},
			{"signature_of_another_jwt", parts[0] + "." + parts[1] + "." + other[2], errs.BadSignature},
			{"payload_edited_sub", parts[0] + "." + payload(func(m jwt.MapClaims) { m["sub"] = "alice" }) + "." + parts[2], errs.BadSignature},
			{"payload_edited_exp", parts[0] + "." + payload(func(m jwt.MapClaims) { m["exp"] = now.Add(24 * time.Hour).Unix() }) + "." + parts[2], errs.BadSignature},
			{"header_edited", b64([]byte(`{"alg":"EdDSA","kid":"sk1","typ":"JWT","x":1}`)) + "." + parts[1] + "." + parts[2], errs.BadSignature},
			{"extra_segment", genuine + ".e30", errs.UnsupportedCredential},
			{"base64_padded_payload", parts[0] + "." + parts[1] + "==." + parts[2], agenttrust.ErrMalformedCredential},
			{"oversized", parts[0] + "." + parts[1] + strings.Repeat("A", agenttrust.MaxCredentialSize) + "." + parts[2], errs.CredentialTooLarge},
			{"unparseable_caveat_claim", eddsa(func(m jwt.MapClaims) { m["caveats"] = []string{"frobnicate"} }), agenttrust.ErrCaveat},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: tc.cred})
				denied(t, d, err, tc.want)
				if _, err := c.Authenticate(ctx, tc.cred, netip.Addr{}); !errors.Is(err, agenttrust.ErrUnauthorized) {
					t.Errorf("Authenticate: %v, want an error matching ErrUnauthorized", err)
				}
			})
		}

		// Authenticate, which hands out the root key's roles, needs the key
		// in this store. (Check does not look keys of tokens up: a token is
		// as good as the secrets that signed it, until revoked.)
		t.Run("unknown_parent_key_authenticate", func(t *testing.T) {
			if _, err := c.Authenticate(ctx, elsewhereJWT, netip.Addr{}); !errors.Is(err, errs.UnknownKey) {
				t.Errorf("Authenticate: %v, want ErrUnknownKey", err)
			}
		})
		t.Run("caveat_claim_binds", func(t *testing.T) {
			j, err := c.ExchangeJWT(ctx, key, "agenttrust", "tool in calendar.read")
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: j})
			denied(t, d, err, agenttrust.ErrCaveat)
		})
		t.Run("sub_is_not_agent_id", func(t *testing.T) {
			d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", AgentID: "alice", Credential: genuine})
			denied(t, d, err, errs.AgentMismatch)
		})
		t.Run("expired_by_clock", func(t *testing.T) {
			clk.Advance(defaultTokenTTL + time.Minute)
			defer clk.Advance(-defaultTokenTTL - time.Minute)
			d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: genuine})
			denied(t, d, err, agenttrust.ErrExpired)
		})
		t.Run("cannot_be_attenuated", func(t *testing.T) {
			if out, err := agenttrust.Attenuate(genuine, "tool in docs.read"); out != "" || !errors.Is(err, agenttrust.ErrMalformedCredential) {
				t.Errorf("Attenuate(JWT) = %q, %v; want ErrMalformedCredential", out, err)
			}
			if _, _, err := c.Delegate(ctx, genuine, 0); !errors.Is(err, agenttrust.ErrMalformedCredential) {
				t.Errorf("Delegate(JWT): %v, want ErrMalformedCredential", err)
			}
		})
		t.Run("revoked_jti", func(t *testing.T) {
			k2, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
			j, err := c.ExchangeJWT(ctx, k2, "agenttrust")
			if err != nil {
				t.Fatal(err)
			}
			id, _ := jwtID(t, j)
			if err := c.Revoke(ctx, id); err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: j})
			denied(t, d, err, agenttrust.ErrRevoked)
		})
		t.Run("parent_key_revoked", func(t *testing.T) {
			k3, rec := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
			j, err := c.ExchangeJWT(ctx, k3, "agenttrust")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Revoke(ctx, rec.ID); err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: j})
			denied(t, d, err, agenttrust.ErrRevoked)
		})
	})
}

// jwtID reads the jti and sub of a JWT without verifying it.
func jwtID(t *testing.T, s string) (jti, sub string) {
	t.Helper()
	var m jwt.MapClaims
	if _, _, err := new(jwt.Parser).ParseUnverified(s, &m); err != nil {
		t.Fatal(err)
	}
	jti, _ = m["jti"].(string)
	sub, _ = m["sub"].(string)
	return jti, sub
}
