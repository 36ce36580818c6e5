package agenttrust_test

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackLimitResetByPolicySave: a policy save, whatever it changes,
// must not refill the node buckets of the limits it keeps. Otherwise an
// agent that has spent its burst gets a fresh one at every edit an
// operator makes (one tightening a tool mode in answer to that very agent
// included), and on every node that reloads the saved version.
func TestAttackLimitResetByPolicySave(t *testing.T) {
	const before = `
rules:
  - {id: open, effect: allow}
limits:
  - {id: per-agent, agents: [bot], rate: 3/m, burst: 3}
`
	const modeAdded = before + "tool_modes: {files.delete: deny}\n"
	cases := []struct {
		name, after string
		follower    bool // the checks are made on another client, which reloads the save
	}{
		{"same document saved again", before, false},
		{"another limit added", before + "  - {id: other, agents: [other-bot], rate: 1/s}\n", false},
		{"tool mode added", modeAdded, false},
		{"tool mode added, reloaded by another node", modeAdded, true},
		{"limit tightened", `
rules:
  - {id: open, effect: allow}
limits:
  - {id: per-agent, agents: [bot], rate: 2/m, burst: 2}
`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, "rules: []\n")
			v, err := f.c.SavePolicy(ctx, []byte(before), "yaml", 0)
			must.NoError(t, err)
			c := f.c
			if tc.follower {
				c, err = agenttrust.New(f.st, agenttrust.WithClock(f.clock.Now), agenttrust.WithRandom(newSeededRandom()))
				must.NoError(t, err)
				t.Cleanup(func() { c.Close() })
			}
			req := agenttrust.Request{AgentID: "bot", Tool: "search"}
			for i := range 3 {
				d, err := c.Check(ctx, req)
				must.NoError(t, err)
				must.Equal(t, agenttrust.Allow, d.Effect, "call %d within the burst", i)
			}
			d, _ := c.Check(ctx, req)
			must.Equal(t, "per-agent", d.Rule, "the burst is spent: %+v", d)
			_, err = f.c.SavePolicy(ctx, []byte(tc.after), "yaml", v)
			must.NoError(t, err)
			if tc.follower {
				// Another agent's call shows when the follower has the save.
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
					d, _ := c.Check(ctx, agenttrust.Request{AgentID: "probe", Tool: "files.delete"})
					if d.Rule == "tool_mode:files.delete" {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the follower never reloaded the save")
					}
				}
			}
			d, err = c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, agenttrust.Deny, d.Effect, "after the save: %+v", d)
			must.Equal(t, "per-agent", d.Rule)
			must.Equal(t, "rate limit exceeded", d.Reason)
		})
	}
}
