package agenttrust

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust/store/memory"
)

// BenchmarkDecodeToken measures what verifying a first-seen token costs
// before its caveats are evaluated: decoding, the root key, the signature
// chain and parsing the caveats.
func BenchmarkDecodeToken(b *testing.B) {
	ctx := context.Background()
	c, err := New(memory.New(), WithTokens(TokenConfig{NoCache: true}))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	secret, _, err := c.CreateKey(ctx, KeySpec{AgentID: "a1"})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.Exchange(ctx, secret)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.decodeToken(tok, nil); err != nil {
			b.Fatal(err)
		}
	}
}
