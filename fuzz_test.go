package agenttrust_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// FuzzCheckCredential feeds arbitrary credentials to Check: it must never
// panic, never return Allow with an error, and never allow a credential
// that is not byte for byte one the client issued.
func FuzzCheckCredential(f *testing.F) {
	ctx := context.Background()
	// Deterministic clock and randomness: fuzzing runs this setup in every
	// worker process, and they must all issue the same credentials.
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(&agenttrust.Policy{Default: agenttrust.Allow}),
		agenttrust.WithMasterKeys(testMasterKey), agenttrust.WithAuditSink(agenttrust.NewMemorySink(16)),
		agenttrust.WithClock(newTestClock()), agenttrust.WithRandom(newSeededRandom()))
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "a"})
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := c.Exchange(ctx, secret, "tool in t")
	narrow, _, _ := c.Delegate(ctx, tok, 0, "attr.n < 3") // injected randomness, unlike Attenuate
	jwtTok, _ := c.ExchangeJWT(ctx, secret, "agenttrust")
	issued := map[string]bool{secret: true, tok: true, narrow: true, jwtTok: true}
	for s := range issued {
		f.Add(s)
	}
	f.Add("atk_" + "0000000000000000000000000000000000000")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, cred string) {
		d, err := c.Check(ctx, agenttrust.Request{Tool: "t", Credential: cred, Attributes: map[string]any{"n": 1}})
		if d.Allowed() && err != nil {
			t.Fatalf("Allow with error %v", err)
		}
		if d.Allowed() && !issued[cred] {
			t.Fatalf("a credential the client never issued was allowed: %q", cred)
		}
		agenttrust.InspectTokenUnverified(cred)
		agenttrust.Attenuate(cred, "tool in t")
	})
}
