package main_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestTokenCacheOff proves the switch token3 relies on does what it
// says: a cached token's check allocates nothing, and with
// WithTokens(TokenConfig{NoCache: true}) the token is decoded again on every check, which
// allocates its parsed caveats.
func TestTokenCacheOff(t *testing.T) {
	ctx := context.Background()
	allocs := func(opts ...agenttrust.Option) float64 {
		c, err := agenttrust.New(memory.New(), append([]agenttrust.Option{agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}})}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_, tok := agentKeyAndToken(t, c, "a1")
		req := agenttrust.Request{Tool: "docs.read", Credential: tok}
		check := func() {
			if _, err := c.Check(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		check()
		return testing.AllocsPerRun(50, check)
	}
	cached := allocs()
	uncached := allocs(agenttrust.WithTokens(agenttrust.TokenConfig{NoCache: true}))
	if uncached <= cached {
		t.Fatalf("a check allocates %v with the token cache and %v without: the switch no longer turns the cache off", cached, uncached)
	}
}
