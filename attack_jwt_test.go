package agenttrust_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
)

// signJWT signs header and claims, given as raw JSON so that duplicate
// and case-variant names survive, with attackSigner.
func signJWT(header, claims string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	return input + "." + enc.EncodeToString(ed25519.Sign(attackSigner, []byte(input)))
}

func TestAttackJWTClaims(t *testing.T) {
	f, _, key := credFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{agenttrust.SecretKey{ID: "sk1", Secret: attackSigner.Seed()}}}))
	ctx := context.Background()
	now := f.clock.Now().Unix()
	exp, late := now+300, now+86400*365
	const hdr = `{"alg":"EdDSA","kid":"sk1","typ":"JWT"}`
	// claims builds a claim set: the valid core, then extra members.
	claims := func(expJSON, extra string) string {
		s := fmt.Sprintf(`{"iss":"agenttrust","sub":"planner","aud":["agenttrust"],"exp":%s,"nbf":%d,"iat":%d,"jti":"tok_attack","tenant":"default","key":%q,"caveats":["tool = t"]`,
			expJSON, now, now, key.ID)
		return s + extra + "}"
	}
	valid := signJWT(hdr, claims(fmt.Sprint(exp), ""))
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: valid}); err != nil || !d.Allowed() {
		t.Fatalf("the well-formed JWT: %v %v", d.Effect, err)
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "other", Credential: valid}); !errors.Is(err, agenttrust.ErrCaveat) || d.Allowed() {
		t.Fatalf("the well-formed JWT's caveat: %v %v", d.Effect, err)
	}
	cases := []struct {
		name, jwt string
	}{
		{"exp-string", signJWT(hdr, claims(fmt.Sprintf("%q", fmt.Sprint(late)), ""))},
		{"exp-string-fraction", signJWT(hdr, claims(fmt.Sprintf("%q", fmt.Sprint(late)+".5"), ""))},
		{"exp-bool", signJWT(hdr, claims("true", ""))},
		{"exp-object", signJWT(hdr, claims(`{"n":1}`, ""))},
		{"nbf-string", signJWT(hdr, claims(fmt.Sprint(exp), fmt.Sprintf(`,"nbf":"%d"`, now)))},
		{"iat-string", signJWT(hdr, claims(fmt.Sprint(exp), fmt.Sprintf(`,"iat":"%d"`, now)))},
		{"exp-twice", signJWT(hdr, claims(fmt.Sprint(exp), fmt.Sprintf(`,"exp":%d`, late)))},
		{"exp-upper-extra", signJWT(hdr, claims(fmt.Sprint(exp), fmt.Sprintf(`,"EXP":%d`, late)))},
		{"exp-title-extra", signJWT(hdr, claims(fmt.Sprint(exp), fmt.Sprintf(`,"Exp":%d`, late)))},
		{"exp-title-only", signJWT(hdr, fmt.Sprintf(`{"iss":"agenttrust","sub":"planner","aud":"agenttrust","Exp":%d,"iat":%d,"jti":"tok_attack","tenant":"default","key":%q}`, late, now, key.ID))},
		{"sub-twice", signJWT(hdr, claims(fmt.Sprint(exp), `,"sub":"billing-bot"`))},
		{"sub-title", signJWT(hdr, claims(fmt.Sprint(exp), `,"Sub":"billing-bot"`))},
		{"sub-long-s", signJWT(hdr, claims(fmt.Sprint(exp), `,"ſub":"billing-bot"`))},
		{"key-kelvin", signJWT(hdr, claims(fmt.Sprint(exp), `,"`+"\u212a"+`ey":"key_other"`))},
		{"tenant-twice", signJWT(hdr, claims(fmt.Sprint(exp), `,"tenant":"other"`))},
		{"tenant-upper", signJWT(hdr, claims(fmt.Sprint(exp), `,"TENANT":"other"`))},
		{"caveats-dropped-by-variant", signJWT(hdr, claims(fmt.Sprint(exp), `,"Caveats":[]`))},
		{"caveats-twice", signJWT(hdr, claims(fmt.Sprint(exp), `,"caveats":[]`))},
		{"aud-twice", signJWT(hdr, claims(fmt.Sprint(exp), `,"aud":"elsewhere"`))},
		{"iss-upper", signJWT(hdr, claims(fmt.Sprint(exp), `,"ISS":"agenttrust"`))},
		{"jti-twice", signJWT(hdr, claims(fmt.Sprint(exp), `,"jti":"tok_other"`))},
		{"unknown-twice", signJWT(hdr, claims(fmt.Sprint(exp), `,"x":1,"X":2`))},
		{"header-alg-twice", signJWT(`{"alg":"EdDSA","kid":"sk1","alg":"none"}`, claims(fmt.Sprint(exp), ""))},
		{"header-alg-upper", signJWT(`{"ALG":"EdDSA","alg":"EdDSA","kid":"sk1"}`, claims(fmt.Sprint(exp), ""))},
		{"header-kid-twice", signJWT(`{"alg":"EdDSA","kid":"sk1","kid":"sk2"}`, claims(fmt.Sprint(exp), ""))},
		{"claims-array", signJWT(hdr, `[{"sub":"planner"}]`)},
		{"claims-trailing-data", signJWT(hdr, claims(fmt.Sprint(exp), "")+`{}`)},
		{"claims-invalid-utf8", signJWT(hdr, claims(fmt.Sprint(exp), `,"note":"`+"\xff\xfe"+`"`))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tc.jwt})
			if !errors.Is(err, errs.JWTClaims) || !errors.Is(err, agenttrust.ErrMalformedCredential) || d.Allowed() {
				t.Fatalf("Check = %v, %v; want a deny with errs.JWTClaims", d.Effect, err)
			}
			if _, err := f.c.Authenticate(ctx, tc.jwt, netip.Addr{}); !errors.Is(err, errs.JWTClaims) {
				t.Fatalf("Authenticate = %v; want errs.JWTClaims", err)
			}
		})
	}
}
