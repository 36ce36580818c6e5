package replay_test

import (
	"context"
	"fmt"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// A policy allows payments up to 100; the proposal lowers that to 50.
// Replaying the trail shows which recorded payment would now wait for an
// approval, and that the record of a revoked agent stays as it was.
func ExampleRun() {
	ctx := context.Background()
	live, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - {id: pay, effect: allow, tools: [pay], when: ["attr.amount <= 100"]}
  - {id: pay-big, effect: needs_approval, tools: [pay], when: ["attr.amount > 100"]}
`), "yaml")
	st := memory.New()
	c, _ := agenttrust.New(st, agenttrust.WithPolicy(live),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}}))
	for _, amount := range []int{20, 80, 300} {
		c.Check(ctx, agenttrust.Request{AgentID: "billing", Tool: "pay", Attributes: map[string]any{"amount": amount}})
	}
	c.Revoke(ctx, "intern")
	c.Check(ctx, agenttrust.Request{AgentID: "intern", Tool: "pay", Attributes: map[string]any{"amount": 1}})
	c.Close() // writes the queued records

	proposal, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - {id: pay, effect: allow, tools: [pay], when: ["attr.amount <= 50"]}
  - {id: pay-big, effect: needs_approval, tools: [pay], when: ["attr.amount > 50"]}
`), "yaml")
	rep, err := replay.Run(ctx, replay.Records(ctx, st, store.AuditQuery{}, 0), replay.Config{Policy: proposal})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("replayed %d: %d same, %d changed\n", rep.Replayed, rep.Same, rep.Changed)
	for _, ch := range rep.Rules {
		fmt.Printf("%s (%s) -> %s (%s): %d\n", ch.FromEffect, ch.FromRule, ch.ToEffect, ch.ToRule, ch.Count)
	}
	fmt.Println("not replayed:", rep.NotReplayable)
	// Output:
	// replayed 3: 2 same, 1 changed
	// allow (pay) -> needs_approval (pay-big): 1
	// not replayed: map[operator:1 revocation:1]
}
