package main_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
)

var testMasterKey = testkit.MasterKey()

// tokenRootKey derives a token's macaroon root key as the README states
// it: HMAC-SHA256(master secret, token id). TestTokenVectorsLibrary checks
// it against the root module's vectors.
func tokenRootKey(mk agenttrust.SecretKey, tokenID string) []byte {
	h := hmac.New(sha256.New, mk.Secret)
	h.Write([]byte(tokenID))
	return h.Sum(nil)
}

// agentKeyAndToken makes an API key with the agent role for agent, and a
// token exchanged for it.
func agentKeyAndToken(tb testing.TB, c *agenttrust.Client, agent string) (secret, token string) {
	tb.Helper()
	ctx := context.Background()
	secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: agent, Roles: []string{store.RoleAgent}})
	if err != nil {
		tb.Fatal(err)
	}
	if token, err = c.Exchange(ctx, secret); err != nil {
		tb.Fatal(err)
	}
	return secret, token
}
