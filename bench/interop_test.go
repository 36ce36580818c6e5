package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// tokenVector is one entry of the root module's testdata/token_vectors.json.
type tokenVector struct {
	MasterKeyID     string   `json:"master_key_id"`
	MasterSecretHex string   `json:"master_secret_hex"`
	TokenID         string   `json:"token_id"`
	RootKeyHex      string   `json:"root_key_hex"`
	Token           string   `json:"token"`
	Caveats         []string `json:"caveats"`
}

// TestTokenVectorsLibrary proves each of the root module's token vectors
// (pinned there by TestTokenVectors) is a macaroon that
// gopkg.in/macaroon.v2 verifies alone, given the root key, and that the
// root key is HMAC-SHA256(master secret, token id) as documented.
func TestTokenVectorsLibrary(t *testing.T) {
	data, err := os.ReadFile("../testdata/token_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []tokenVector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no token vectors")
	}
	for i, v := range vs {
		secret, err := hex.DecodeString(v.MasterSecretHex)
		if err != nil {
			t.Fatal(err)
		}
		root, err := hex.DecodeString(v.RootKeyHex)
		if err != nil {
			t.Fatal(err)
		}
		if got := tokenRootKey(agenttrust.SecretKey{ID: v.MasterKeyID, Secret: secret}, v.TokenID); !bytes.Equal(got, root) {
			t.Fatalf("vector %d: HMAC-SHA256(master secret, token id) = %x, the vector's root key %x", i, got, root)
		}
		raw, err := base64.RawURLEncoding.DecodeString(v.Token[len(agenttrust.TokenPrefix):])
		if err != nil {
			t.Fatal(err)
		}
		var m macaroon.Macaroon
		if err := m.UnmarshalBinary(raw); err != nil {
			t.Fatalf("vector %d: library cannot decode: %v", i, err)
		}
		var seen []string
		if err := m.Verify(root, func(c string) error { seen = append(seen, c); return nil }, nil); err != nil {
			t.Fatalf("vector %d: library does not verify: %v", i, err)
		}
		if len(seen) != len(v.Caveats) {
			t.Fatalf("vector %d: library saw %d caveats, want %d", i, len(seen), len(v.Caveats))
		}
		for j := range seen {
			if seen[j] != v.Caveats[j] {
				t.Errorf("vector %d caveat %d: %q, want %q", i, j, seen[j], v.Caveats[j])
			}
		}
		bad := append([]byte(nil), root...)
		bad[0] ^= 1
		if err := m.Verify(bad, func(string) error { return nil }, nil); err == nil {
			t.Fatalf("vector %d verifies with a wrong root key", i)
		}
	}
}

// TestJWTVerifiesWithAnotherLibrary checks an agenttrust JWT with go-jose
// against the JWKS the server publishes for the same signing key.
func TestJWTVerifiesWithAnotherLibrary(t *testing.T) {
	ctx := context.Background()
	sk := agenttrust.SecretKey{ID: "sk1", Secret: bytes.Repeat([]byte("s"), 32)}
	c, err := agenttrust.New(memory.New(), agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{sk}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv, err := server.New(memory.New(), server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{sk}})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	secret, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner", Name: "planner key"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.ExchangeJWT(ctx, secret, "https://mcp.example/")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("jwks.json: %d %s", rec.Code, rec.Body)
	}
	jwksJSON := rec.Body.Bytes()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwksJSON, &set); err != nil {
		t.Fatal(err)
	}
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", parsed.Headers[0].KeyID)
	}
	var std josejwt.Claims
	var custom struct {
		Tenant string `json:"tenant"`
		Key    string `json:"key"`
	}
	if err := parsed.Claims(keys[0].Key, &std, &custom); err != nil {
		t.Fatalf("go-jose does not verify: %v", err)
	}
	// The client runs on the real clock: validate at its issue time.
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: "agenttrust", Subject: "planner", AnyAudience: []string{"https://mcp.example/"}, Time: std.IssuedAt.Time()}, time.Second); err != nil {
		t.Fatal(err)
	}
	if custom.Key != key.ID || custom.Tenant != agenttrust.DefaultTenant || std.ID == "" {
		t.Fatalf("claims: %+v %+v", std, custom)
	}
}
