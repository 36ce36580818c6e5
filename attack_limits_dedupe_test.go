package agenttrust_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackLimitCountedOncePerCheck: a limit whose agents or tools list
// both an exact name and a glob is filed under several index keys, and a
// check that matches more than one of them takes one token per key: a
// limit of 3 per minute allows one call. With scope cluster, nine such
// keys overflow the fixed array of cluster limits and Check panics: no
// decision, no audit record.
// TestAttackLimitCountedOncePerCheck: a limit whose patterns name the same
// agent or tool twice (an exact name and a glob) takes one token a check,
// not one per index key; a cluster limit met several times never
// overruns the check's table of them (it panicked, leaving no decision
// and no record).
func TestAttackLimitCountedOncePerCheck(t *testing.T) {
	ctx := context.Background()
	t.Run("node", func(t *testing.T) {
		p, err := agenttrust.ParsePolicy([]byte(`
default: allow
limits:
  - id: three
    agents: [bot-1, "bot-*"]
    tools: [send, "s*"]
    rate: 3/m
    burst: 3
`), "yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		allowed := 0
		for range 3 {
			if d, _ := c.Check(ctx, agenttrust.Request{AgentID: "bot-1", Tool: "send"}); d.Allowed() {
				allowed++
			}
		}
		if allowed != 3 {
			t.Fatalf("limit 3/m with burst 3 allowed %d of 3 calls: the one limit took a token per index key", allowed)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		p, err := agenttrust.ParsePolicy([]byte(`
default: allow
limits:
  - id: shared
    scope: cluster
    agents: [bot.1, "bot.*", "*"]
    tools: [t.1, "t.*", "*"]
    rate: 100/m
`), "yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var d agenttrust.Decision
		err = func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("Check panicked: %v", r)
				}
			}()
			d, err = c.Check(ctx, agenttrust.Request{AgentID: "bot.1", Tool: "t.1"})
			return err
		}()
		if err != nil || !d.Allowed() {
			t.Fatalf("first call under a 100/m cluster limit: %v %v", d.Effect, err)
		}
	})
}
