package agenttrust_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

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
	c, err := agenttrust.New(memory.New(), agenttrust.WithClock(clock.Now), agenttrust.WithRandom(newSeededRandom()),
		agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}), agenttrust.WithPolicy(mustPolicy(t, openPolicy)))
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
	var first string
	for i, cavs := range [][]string{nil, {"tool in payments.charge", "attr.amount <= 50"}, {"resource in \"mailbox:alice smith/*\"", "session = s1"}, {"tool in payments.charge"}} {
		var tok string
		var err error
		if i < 3 {
			tok, err = c.Exchange(ctx, secret, cavs...)
		} else {
			// The first token delegated: its hop id bound to the
			// first token's signature (appendHopID).
			tok, _, err = c.Delegate(ctx, first, 0, cavs...)
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = tok
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

// TestTokenVectors pins the token wire format and the root key
// derivation. The bench module's TestTokenVectorsLibrary proves each
// vector's macaroon verifies with gopkg.in/macaroon.v2 alone, given the
// root key.
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
		if got[i].RootKeyHex != v.RootKeyHex || got[i].TokenID != v.TokenID {
			t.Errorf("vector %d: root key derivation changed", i)
		}
	}
}
