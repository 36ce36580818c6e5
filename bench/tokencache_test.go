package bench_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestDisableTokenCache proves the switch token3 relies on still does
// what it says: a cached token's check allocates nothing, and once the
// cache is off the token is decoded again on every check, which
// allocates its parsed caveats.
func TestDisableTokenCache(t *testing.T) {
	ctx := context.Background()
	c, err := agenttrust.New(memory.New(), agenttrust.WithMasterKeys(testMasterKey))
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
	cached := testing.AllocsPerRun(50, check)
	disableTokenCache(t, c)
	uncached := testing.AllocsPerRun(50, check)
	if uncached <= cached {
		t.Fatalf("a check allocates %v with the token cache and %v without: the switch no longer turns the cache off", cached, uncached)
	}
}
