package bench_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"reflect"
	"testing"
	"unsafe"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

var testMasterKey = agenttrust.MasterKey{ID: "mk1", Secret: []byte("0123456789abcdef0123456789abcdef")}

// tokenRootKey derives a token's macaroon root key as the README states
// it: HMAC-SHA256(master secret, token id). TestTokenVectorsLibrary checks
// it against the root module's vectors.
func tokenRootKey(mk agenttrust.MasterKey, tokenID string) []byte {
	h := hmac.New(sha256.New, mk.Secret)
	h.Write([]byte(tokenID))
	return h.Sum(nil)
}

// disableTokenCache makes every check of c verify its token from scratch,
// as the root package's own DisableTokenCache (export_test.go) does, so
// token3 measures a token seen for the first time. That hook exists only
// in the root package's tests, so this sets the same unexported switch;
// TestDisableTokenCache fails if the switch is renamed.
func disableTokenCache(tb testing.TB, c *agenttrust.Client) {
	tb.Helper()
	f := reflect.ValueOf(c).Elem().FieldByName("tokenCacheOff")
	if !f.IsValid() || f.Kind() != reflect.Bool {
		tb.Fatal("bench: agenttrust.Client has no bool field tokenCacheOff; update disableTokenCache")
	}
	*(*bool)(unsafe.Pointer(f.UnsafeAddr())) = true
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
