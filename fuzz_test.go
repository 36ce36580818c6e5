package agenttrust_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// fuzzClient issues one credential of each kind. Its clock and randomness
// are fixed: fuzzing runs the setup in every worker process, and they must
// all issue the same credentials.
func fuzzClient(f *testing.F) (c *agenttrust.Client, secret, tok, narrow, jwtTok string, issued map[string]bool) {
	ctx := context.Background()
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(&agenttrust.Policy{Default: agenttrust.Allow}),
		agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(16)}}),
		agenttrust.WithClock(newTestClock().Now), agenttrust.WithRandom(newSeededRandom()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	secret, _, err = c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "a"})
	if err != nil {
		f.Fatal(err)
	}
	tok, _ = c.Exchange(ctx, secret, "tool in t")
	narrow, _, _ = c.Delegate(ctx, tok, 0, "attr.n < 3") // injected randomness, unlike Attenuate
	jwtTok, _ = c.ExchangeJWT(ctx, secret, "agenttrust")
	issued = map[string]bool{secret: true, tok: true, narrow: true, jwtTok: true}
	return c, secret, tok, narrow, jwtTok, issued
}

// checkFuzzed asserts the laws for one fuzzed credential: no panic, never
// Allow with an error, never Allow for a credential the client did not
// issue byte for byte.
func checkFuzzed(t *testing.T, c *agenttrust.Client, issued map[string]bool, cred string) {
	d, err := c.Check(context.Background(), agenttrust.Request{Tool: "t", Credential: cred, Attributes: map[string]any{"n": 1}})
	if d.Allowed() && err != nil {
		t.Fatalf("Allow with error %v", err)
	}
	if d.Allowed() && !issued[cred] {
		t.Fatalf("a credential the client never issued was allowed: %q", cred)
	}
}

// FuzzCheckCredential feeds arbitrary credential strings to Check.
func FuzzCheckCredential(f *testing.F) {
	c, _, _, _, _, issued := fuzzClient(f)
	for s := range issued {
		f.Add(s)
	}
	f.Add("atk_" + "0000000000000000000000000000000000000")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, cred string) {
		checkFuzzed(t, c, issued, cred)
		agenttrust.InspectTokenUnverified(cred)
		agenttrust.Attenuate(cred, "tool in t")
	})
}

// FuzzToken mutates the binary macaroon inside tokens.
func FuzzToken(f *testing.F) {
	c, _, tok, narrow, _, issued := fuzzClient(f)
	for _, s := range []string{tok, narrow} {
		raw, _ := base64.RawURLEncoding.DecodeString(s[len(agenttrust.TokenPrefix):])
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cred := agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
		checkFuzzed(t, c, issued, cred)
		if info, err := agenttrust.InspectTokenUnverified(cred); err == nil && len(info.HopIDs) > agenttrust.MaxDelegationDepth {
			if d, _ := c.Check(context.Background(), agenttrust.Request{Tool: "t", Credential: cred}); d.Allowed() {
				t.Fatal("a token deeper than the limit was allowed")
			}
		}
	})
}

// FuzzJWT mutates JWTs.
func FuzzJWT(f *testing.F) {
	c, _, _, _, jwtTok, issued := fuzzClient(f)
	f.Add(jwtTok)
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhIn0.sig")
	f.Fuzz(func(t *testing.T, cred string) {
		checkFuzzed(t, c, issued, cred)
	})
}
