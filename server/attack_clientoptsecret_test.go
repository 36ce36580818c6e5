package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/netip"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/mac"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackClientOptionSecretsCleared: SecretKey says its secret is
// copied, so a careful operator clears its own copy of the master and
// signing keys once the server is built. But WithClientOptions keeps the
// options, and each tenant's Client is built later, on the first request
// that names it (and again after it idled out): built from the caller's
// cleared buffers, its master key and signing seed are all zero bytes,
// which anyone can sign with. A token or JWT minted under the zero keys,
// naming an admin key's id (ids are no secret: every token and audit
// record carries them), must be refused with ErrUnauthorized, never
// authenticated as that admin.
func TestAttackClientOptionSecretsCleared(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	master := bytes.Repeat([]byte("m"), 32)
	seed := bytes.Repeat([]byte("s"), 32)
	srv, err := New(st, WithNodeName("n1"), WithClock(newTestClock().Now), WithAuditKey(testAuditKey),
		WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{
			MasterKeys:  []agenttrust.SecretKey{{ID: "mk1", Secret: master}},
			SigningKeys: []agenttrust.SecretKey{{ID: "sk1", Secret: seed}},
		})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// The operator's hygiene, once New has returned.
	clear(master)
	clear(seed)

	// An admin of tenant acme, whose key id the attacker has seen.
	adminSecret, err := apikey.Generate(testkit.NewRandom())
	if err != nil {
		t.Fatal(err)
	}
	const adminID = "key_adminofacme"
	if err := st.CreateKey(ctx, store.Key{ID: adminID, Tenant: "acme", AgentID: "alice", Hash: apikey.Hash(adminSecret),
		Roles: []string{store.RoleAdmin}, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	// The attacker's token and JWT under the zero keys, naming the
	// admin's key id, made by hand: a client refuses zero keys.
	now := newTestClock().Now()
	tok := func() string {
		const tokID = "tok_forged"
		m := hmac.New(sha256.New, make([]byte, 32))
		m.Write([]byte(tokID))
		bld, err := mac.New(m.Sum(nil), []byte("at1|"+tokID+"|"+adminID+"|mk1"), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, cv := range []string{"tenant = acme", "agent = alice", "expires < " + now.Add(time.Minute).UTC().Format(time.RFC3339)} {
			if err := bld.AddCaveat([]byte(cv)); err != nil {
				t.Fatal(err)
			}
		}
		raw, err := bld.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		return agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	}()
	jwt := func() string {
		j := gojwt.NewWithClaims(gojwt.SigningMethodEdDSA, gojwt.MapClaims{
			"iss": "agenttrust", "sub": "alice", "aud": []string{"agenttrust"}, "exp": now.Add(time.Minute).Unix(),
			"iat": now.Unix(), "nbf": now.Unix(), "jti": "tok_forgedjwt", "tenant": "acme", "key": adminID,
		})
		j.Header["kid"] = "sk1"
		s, err := j.SignedString(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()

	// The tenant opens now, after the clear.
	c, err := srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct{ name, cred string }{
		{"token under the zero master key", tok},
		{"JWT under the zero signing seed", jwt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.Authenticate(ctx, tc.cred, addr)
			if !errors.Is(err, agenttrust.ErrUnauthorized) || p.AgentID != "" {
				t.Errorf("authenticate: %v as %q with roles %v; want ErrUnauthorized", err, p.AgentID, p.Roles)
			}
			d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: tc.cred})
			if !errors.Is(err, agenttrust.ErrUnauthorized) || d.Effect != agenttrust.Deny {
				t.Errorf("check: %v %v; want a Deny with ErrUnauthorized", d.Effect, err)
			}
		})
	}
}
