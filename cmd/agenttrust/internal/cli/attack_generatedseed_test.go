package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// forgeJWT signs claims under seed with kid, as anyone holding the seed
// can.
func forgeJWT(t *testing.T, seed []byte, kid string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]any{"alg": "EdDSA", "kid": kid, "typ": "JWT"}) + "." + enc(claims)
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(seed), []byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestAttackGeneratedSigningSeedZero: GenerateSecrets read the signing
// seed as a slice of its random buffer, then cleared the buffer before
// it returned: the seed of every secrets file `agenttrust serve` made was
// 32 zero bytes. Anyone could sign a JWT under it, with the file's key
// id (published at /.well-known/jwks.json) and any tenant, agent and key
// id (ids are no secret), and be taken for that key: an admin, say. The
// seed must be the random bytes read, and a secrets file holding a zero
// seed (one written before the fix) is refused, so a deployment holding
// one does not start until it has a new signing key.
func TestAttackGeneratedSigningSeedZero(t *testing.T) {
	zero := make([]byte, ed25519.SeedSize)
	t.Run("generated seed is random", func(t *testing.T) {
		a, err := GenerateSecrets(nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := GenerateSecrets(nil)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a.SigningKeys[0].Secret, zero) || bytes.Equal(a.SigningKeys[0].Secret, b.SigningKeys[0].Secret) {
			t.Errorf("generated seeds %x and %x", a.SigningKeys[0].Secret, b.SigningKeys[0].Secret)
		}
	})
	t.Run("generated seed is what was read", func(t *testing.T) {
		stream := ascending(112)
		s, err := GenerateSecrets(bytes.NewReader(stream))
		if err != nil {
			t.Fatal(err)
		}
		if want := stream[40 : 40+ed25519.SeedSize]; !bytes.Equal(s.SigningKeys[0].Secret, want) {
			t.Errorf("seed = %x, want %x", s.SigningKeys[0].Secret, want)
		}
	})
	t.Run("JWT signed under the zero seed", func(t *testing.T) {
		ctx := context.Background()
		sec, err := GenerateSecrets(nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		c, err := agenttrust.New(memory.New(), agenttrust.WithClock(func() time.Time { return now }),
			agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: sec.MasterKeys, SigningKeys: sec.SigningKeys}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, admin, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "alice", Roles: []string{"admin"}})
		if err != nil {
			t.Fatal(err)
		}
		forged := forgeJWT(t, zero, sec.SigningKeys[0].ID, map[string]any{
			"iss": "agenttrust", "sub": "alice", "aud": []string{"agenttrust"}, "exp": now.Add(time.Minute).Unix(),
			"iat": now.Unix(), "nbf": now.Unix(), "jti": "tok_forged", "tenant": agenttrust.DefaultTenant, "key": admin.ID,
		})
		p, err := c.Authenticate(ctx, forged, netip.MustParseAddr("192.0.2.1"))
		if !errors.Is(err, agenttrust.ErrUnauthorized) {
			t.Errorf("Authenticate: %v as %q with roles %v; want ErrUnauthorized", err, p.AgentID, p.Roles)
		}
		d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: forged})
		if !errors.Is(err, agenttrust.ErrUnauthorized) || d.Effect != agenttrust.Deny {
			t.Errorf("Check: %v, %v; want a Deny with ErrUnauthorized", d.Effect, err)
		}
	})
	t.Run("secrets file with a zero seed", func(t *testing.T) {
		sec, err := GenerateSecrets(nil)
		if err != nil {
			t.Fatal(err)
		}
		sec.SigningKeys[0].Secret = zero
		path := filepath.Join(t.TempDir(), "secrets")
		if err := WriteSecrets(path, sec); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSecrets(path); !errors.Is(err, ErrZeroSecret) {
			t.Errorf("LoadSecrets: %v, want %v", err, ErrZeroSecret)
		}
	})
}
