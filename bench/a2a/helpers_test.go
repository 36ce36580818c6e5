package a2a_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

const chainPolicy = `
rules:
  - id: planner-work
    effect: allow
    agents: [planner]
    tools: ["research.*", "tools.*"]
`

// newClient returns a client with chainPolicy, an API key of agent
// planner and a token exchanged for it.
func newClient(t *testing.T) (*agenttrust.Client, string, string) {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(chainPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "planner"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return c, key, tok
}
