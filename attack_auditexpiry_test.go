package agenttrust_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
)

// TestAttackAuditAttributionExpired: a check made with a credential that
// verified (its hash is in the store, its signature holds) and then is
// refused for its age names that credential and its agent in the record,
// as one refused by a caveat, an address or an agent mismatch does: an
// expired API key, one past its "expires" caveat, an expired JWT and a
// delegated JWT (with its hop). A forged JWT still names nobody.
func TestAttackAuditAttributionExpired(t *testing.T) {
	ctx := context.Background()
	addr := netip.MustParseAddr("10.1.1.1")
	for _, tc := range []struct {
		name string
		// make returns the credential, and the credential and hop ids the
		// record must name ("" and nil: none).
		make    func(t *testing.T, f *fixture) (cred, id string, hops []string)
		advance time.Duration
		err     error
	}{
		{"API key past its expiry", func(t *testing.T, f *fixture) (string, string, []string) {
			secret, k, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", ExpiresAt: f.clock.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return secret, k.ID, nil
		}, 2 * time.Hour, agenttrust.ErrExpired},
		{"API key past its expires caveat", func(t *testing.T, f *fixture) (string, string, []string) {
			exp := f.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			secret, k, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Caveats: []string{"expires < " + exp}})
			if err != nil {
				t.Fatal(err)
			}
			return secret, k.ID, nil
		}, 2 * time.Hour, agenttrust.ErrExpired},
		{"expired JWT", func(t *testing.T, f *fixture) (string, string, []string) {
			secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
			if err != nil {
				t.Fatal(err)
			}
			jwtTok, err := f.c.ExchangeJWT(ctx, secret, "agenttrust")
			if err != nil {
				t.Fatal(err)
			}
			return jwtTok, jwtID(t, jwtTok), nil
		}, 48 * time.Hour, agenttrust.ErrExpired},
		{"expired delegated JWT", func(t *testing.T, f *fixture) (string, string, []string) {
			secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := f.c.Exchange(ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			jwtTok, hop, err := f.c.NarrowJWT(ctx, tok, "agenttrust", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return jwtTok, jwtID(t, jwtTok), []string{hop.ID}
		}, time.Hour, agenttrust.ErrExpired},
		{"control forged JWT names nothing", func(t *testing.T, f *fixture) (string, string, []string) {
			secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
			if err != nil {
				t.Fatal(err)
			}
			jwtTok, err := f.c.ExchangeJWT(ctx, secret, "agenttrust")
			if err != nil {
				t.Fatal(err)
			}
			b := []byte(jwtTok)
			if i := len(b) - 3; b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b), "", nil
		}, 48 * time.Hour, errs.BadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
			cred, id, hops := tc.make(t, f)
			f.clock.Advance(tc.advance)
			d, err := f.c.Check(ctx, agenttrust.Request{Tool: "calendar.read", Credential: cred, RemoteAddr: addr})
			if d.Allowed() || d.Effect != agenttrust.Deny || !errors.Is(err, tc.err) {
				t.Fatalf("decision %v, err %v; want a deny with %v", d.Effect, err, tc.err)
			}
			agent := "bot"
			if id == "" {
				agent = ""
			}
			var rec *agenttrust.AuditRecord
			for _, r := range f.records(t) {
				if r.ID == d.ID {
					rec = &r
				}
			}
			if rec == nil {
				t.Fatal("the check left no record")
			}
			if rec.Effect != agenttrust.Deny || rec.CredentialID != id || rec.AgentID != agent || !slices.Equal(rec.HopIDs, hops) {
				t.Fatalf("record names agent %q credential %q hops %v; want %q %q %v", rec.AgentID, rec.CredentialID, rec.HopIDs, agent, id, hops)
			}
		})
	}
}

// jwtID reads a JWT's id from its claims without verifying it, so that
// the client under test has not seen (nor cached) the JWT before the
// check: as a node of a fleet meets a JWT another node issued.
func jwtID(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		ID string `json:"jti"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.ID == "" {
		t.Fatalf("JWT claims %s: %v", raw, err)
	}
	return claims.ID
}
