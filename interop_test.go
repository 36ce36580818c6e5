package agenttrust_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

type tokenVector struct {
	MasterKeyID     string   `json:"master_key_id"`
	MasterSecretHex string   `json:"master_secret_hex"`
	TokenID         string   `json:"token_id"`
	RootKeyHex      string   `json:"root_key_hex"`
	Token           string   `json:"token"`
	Caveats         []string `json:"caveats"`
}

// goldenTokens mints tokens deterministically: fixed clock, fixed random
// source, fixed master key.
func goldenTokens(t *testing.T) []tokenVector {
	t.Helper()
	clock := newTestClock()
	c, err := agenttrust.New(memory.New(), agenttrust.WithClock(clock), agenttrust.WithRandom(newSeededRandom()),
		agenttrust.WithMasterKeys(testMasterKey), agenttrust.WithPolicy(mustPolicy(t, openPolicy)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner", AllowedIPs: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []tokenVector
	for _, cavs := range [][]string{nil, {"tool in payments.charge", "attr.amount <= 50"}, {"resource in \"mailbox:alice smith/*\"", "session = s1"}} {
		tok, err := c.Exchange(ctx, secret, cavs...)
		if err != nil {
			t.Fatal(err)
		}
		info, err := agenttrust.InspectTokenUnverified(tok)
		if err != nil {
			t.Fatal(err)
		}
		root := agenttrust.TokenRootKey(c, testMasterKey.ID, info.ID)
		out = append(out, tokenVector{
			MasterKeyID: testMasterKey.ID, MasterSecretHex: hex.EncodeToString(testMasterKey.Secret),
			TokenID: info.ID, RootKeyHex: hex.EncodeToString(root[:]), Token: tok, Caveats: info.Caveats,
		})
	}
	return out
}

// TestTokenVectors pins the token wire format and proves a token's
// macaroon verifies with gopkg.in/macaroon.v2 alone, given the root key.
func TestTokenVectors(t *testing.T) {
	got := goldenTokens(t)
	const path = "testdata/token_vectors.json"
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	var want []tokenVector
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d vectors, want %d", len(got), len(want))
	}
	for i, v := range want {
		if got[i].Token != v.Token {
			t.Errorf("vector %d: token wire format changed\n got %s\nwant %s", i, got[i].Token, v.Token)
		}
		raw, err := base64.RawURLEncoding.DecodeString(v.Token[len(agenttrust.TokenPrefix):])
		if err != nil {
			t.Fatal(err)
		}
		var m macaroon.Macaroon
		if err := m.UnmarshalBinary(raw); err != nil {
			t.Fatalf("vector %d: library cannot decode: %v", i, err)
		}
		root, _ := hex.DecodeString(v.RootKeyHex)
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
// against the client's JWKS.
func TestJWTVerifiesWithAnotherLibrary(t *testing.T) {
	f, secret, key := credFixture(t, openPolicy)
	tok, err := f.c.ExchangeJWT(context.Background(), secret, "https://mcp.example/")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	for kid, pub := range f.c.PublicKeys() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: "EdDSA", Use: "sig"})
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
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: "agenttrust", Subject: "planner", AnyAudience: []string{"https://mcp.example/"}, Time: f.clock.Now()}, time.Second); err != nil {
		t.Fatal(err)
	}
	if custom.Key != key.ID || custom.Tenant != agenttrust.DefaultTenant || std.ID == "" {
		t.Fatalf("claims: %+v %+v", std, custom)
	}
}
