package agenttrust_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// attackSigner is the Ed25519 key the JWT attacks sign with: the client's
// own signing key, so only the claims decide.
var attackSigner = ed25519.NewKeyFromSeed([]byte("attack-signer-seed-0123456789abc"))

// encodingTarget is a token with '-' and '_' in its base64url text and
// trailing bits to spare, so every encoding attack has something to bend.
func encodingTarget(t *testing.T, f *fixture, secret string) string {
	t.Helper()
	for i := range 200 {
		tok, err := f.c.Exchange(context.Background(), secret, "tool in t,t"+strings.Repeat("x", i%7))
		if err != nil {
			t.Fatal(err)
		}
		body := tok[len(agenttrust.TokenPrefix):]
		if strings.ContainsAny(body, "-") && strings.ContainsAny(body, "_") && len(body)%4 != 0 {
			return tok
		}
	}
	t.Fatal("no token with both '-' and '_' and a partial last quantum")
	return ""
}

func TestAttackTokenEncoding(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	ctx := context.Background()
	tok := encodingTarget(t, f, secret)
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tok}); err != nil || !d.Allowed() {
		t.Fatalf("the canonical token: %v %v", d.Effect, err)
	}
	p := len(agenttrust.TokenPrefix)
	mid := p + (len(tok)-p)/2
	insert := func(at int, s string) string { return tok[:at] + s + tok[at:] }
	// The last character carries trailing bits: with 2 or 3 characters in
	// the last quantum, the low 4 or 2 bits must be zero.
	trailing := func() string {
		body := tok[p:]
		const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alpha, body[len(body)-1])
		return tok[:len(tok)-1] + string(alpha[last|1])
	}
	cases := []struct {
		name, cred string
		want       error
	}{
		{"cr-middle", insert(mid, "\r"), agenttrust.ErrMalformedCredential},
		{"lf-middle", insert(mid, "\n"), agenttrust.ErrMalformedCredential},
		{"crlf-middle", insert(mid, "\r\n"), agenttrust.ErrMalformedCredential},
		{"lf-after-prefix", insert(p, "\n"), agenttrust.ErrMalformedCredential},
		{"cr-end", tok + "\r", agenttrust.ErrMalformedCredential},
		{"lf-end", tok + "\n", agenttrust.ErrMalformedCredential},
		{"crlf-end", tok + "\r\n", agenttrust.ErrMalformedCredential},
		{"lf-every-64", func() string {
			var b strings.Builder
			b.WriteString(tok[:p])
			for i, r := range tok[p:] {
				if i > 0 && i%64 == 0 {
					b.WriteByte('\n')
				}
				b.WriteRune(r)
			}
			return b.String()
		}(), agenttrust.ErrMalformedCredential},
		{"space-middle", insert(mid, " "), agenttrust.ErrMalformedCredential},
		{"tab-middle", insert(mid, "\t"), agenttrust.ErrMalformedCredential},
		{"space-end", tok + " ", agenttrust.ErrMalformedCredential},
		{"padding-one", tok + "=", agenttrust.ErrMalformedCredential},
		{"padding-full", tok + strings.Repeat("=", (4-(len(tok)-p)%4)%4), agenttrust.ErrMalformedCredential},
		{"std-alphabet-plus", strings.ReplaceAll(tok, "-", "+"), agenttrust.ErrMalformedCredential},
		{"std-alphabet-slash", tok[:p] + strings.ReplaceAll(tok[p:], "_", "/"), agenttrust.ErrMalformedCredential},
		{"std-alphabet-padded", agenttrust.TokenPrefix + func() string {
			raw, err := base64.RawURLEncoding.DecodeString(tok[p:])
			if err != nil {
				t.Fatal(err)
			}
			return base64.StdEncoding.EncodeToString(raw)
		}(), agenttrust.ErrMalformedCredential},
		{"trailing-bits", trailing(), agenttrust.ErrMalformedCredential},
		{"mixed-lf-space-padding", insert(mid, "\n ") + "=", agenttrust.ErrMalformedCredential},
		{"mixed-crlf-std-alphabet", tok[:p] + strings.ReplaceAll(insert(mid, "\r\n")[p:], "_", "/"), agenttrust.ErrMalformedCredential},
		{"nul-middle", insert(mid, "\x00"), agenttrust.ErrMalformedCredential},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cred == tok {
				t.Fatal("the attack left the token unchanged")
			}
			d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tc.cred})
			if !errors.Is(err, tc.want) || d.Allowed() {
				t.Fatalf("Check = %v, %v; want a deny with %v", d.Effect, err, tc.want)
			}
			// Every other reader of a token refuses it too.
			if _, err := f.c.Authenticate(ctx, tc.cred, netip.Addr{}); !errors.Is(err, tc.want) {
				t.Fatalf("Authenticate = %v; want %v", err, tc.want)
			}
			if _, err := agenttrust.InspectTokenUnverified(tc.cred); !errors.Is(err, tc.want) {
				t.Fatalf("InspectTokenUnverified = %v; want %v", err, tc.want)
			}
			if _, err := agenttrust.Attenuate(tc.cred, "tool = t"); !errors.Is(err, tc.want) {
				t.Fatalf("Attenuate = %v; want %v", err, tc.want)
			}
			if _, _, err := f.c.Delegate(ctx, tc.cred, 0); !errors.Is(err, tc.want) {
				t.Fatalf("Delegate = %v; want %v", err, tc.want)
			}
		})
	}
}

// The same for the other two credential kinds: an API key's text and a
// JWT's segments have exactly one encoding.
func TestAttackCredentialEncoding(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{agenttrust.SecretKey{ID: "sk1", Secret: attackSigner.Seed()}}}))
	ctx := context.Background()
	jwt, err := f.c.ExchangeJWT(ctx, secret, "agenttrust")
	if err != nil {
		t.Fatal(err)
	}
	for _, cred := range []string{secret, jwt} {
		if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: cred}); err != nil || !d.Allowed() {
			t.Fatalf("the canonical credential: %v %v", d.Effect, err)
		}
	}
	dot1 := strings.IndexByte(jwt, '.')
	dot2 := strings.LastIndexByte(jwt, '.')
	insert := func(s string, at int, x string) string { return s[:at] + x + s[at:] }
	reencode := func(seg string, enc *base64.Encoding) string {
		raw, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatal(err)
		}
		return enc.EncodeToString(raw)
	}
	cases := []struct {
		name, cred string
		want       error
	}{
		{"key-lf-end", secret + "\n", agenttrust.ErrMalformedCredential},
		{"key-cr-middle", insert(secret, 20, "\r"), agenttrust.ErrMalformedCredential},
		{"key-space-middle", insert(secret, 20, " "), agenttrust.ErrMalformedCredential},
		{"key-padding", secret + "=", agenttrust.ErrMalformedCredential},
		{"jwt-lf-in-header", insert(jwt, dot1/2, "\n"), agenttrust.ErrMalformedCredential},
		{"jwt-cr-in-claims", insert(jwt, (dot1+dot2)/2, "\r"), agenttrust.ErrMalformedCredential},
		{"jwt-crlf-in-signature", insert(jwt, (dot2+len(jwt))/2, "\r\n"), agenttrust.ErrMalformedCredential},
		{"jwt-lf-end", jwt + "\n", agenttrust.ErrMalformedCredential},
		{"jwt-space-in-claims", insert(jwt, (dot1+dot2)/2, " "), agenttrust.ErrMalformedCredential},
		{"jwt-padded-claims", jwt[:dot1+1] + reencode(jwt[dot1+1:dot2], base64.URLEncoding) + jwt[dot2:], agenttrust.ErrMalformedCredential},
		{"jwt-std-alphabet-signature", jwt[:dot2+1] + reencode(jwt[dot2+1:], base64.RawStdEncoding), agenttrust.ErrMalformedCredential},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cred == secret || tc.cred == jwt {
				t.Fatal("the attack left the credential unchanged")
			}
			d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tc.cred})
			if !errors.Is(err, tc.want) || d.Allowed() {
				t.Fatalf("Check = %v, %v; want a deny with %v", d.Effect, err, tc.want)
			}
			if _, err := f.c.Authenticate(ctx, tc.cred, netip.Addr{}); !errors.Is(err, tc.want) {
				t.Fatalf("Authenticate = %v; want %v", err, tc.want)
			}
		})
	}
}

// A holder who attenuates a token with a caveat spelled other than in its
// canonical text (two spaces, needless quotes, a fraction with trailing
// zeros) gets a correctly signed token that means what the canonical
// spelling means. It is refused all the same: one caveat, one text, so
// no two tokens differ only in how a caveat is written.
func TestAttackTokenCaveatSpelling(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	ctx := context.Background()
	tok, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, cv := range []string{"tool = t", "tool in t,u", "expires < 2999-01-01T00:00:00.5Z"} {
		cred := agenttrust.AttenuateUncheckedForTest(tok, cv)
		if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: cred}); err != nil || !d.Allowed() {
			t.Fatalf("canonical %q: %v %v", cv, d.Effect, err)
		}
	}
	for _, cv := range []string{
		"tool  = t", "tool = t ", " tool = t", `tool = "t"`, "tool in t, u", "tool in t,u,",
		"expires < 2999-01-01T00:00:00.50Z", "expires < 2999-01-01T00:00:00.000Z",
		"expires < 2999-01-01T01:00:00+01:00", "expires  < 2999-01-01T00:00:00Z",
	} {
		cred := agenttrust.AttenuateUncheckedForTest(tok, cv)
		d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: cred})
		var ce *agenttrust.CaveatError
		if d.Allowed() || !errors.As(err, &ce) || !errors.Is(err, agenttrust.ErrUnauthorized) {
			t.Errorf("%q: %v %v, want a deny with a *CaveatError", cv, d.Effect, err)
		}
	}
}
