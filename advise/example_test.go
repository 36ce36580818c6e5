package advise_test

import (
	"context"
	"fmt"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/advise"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// Every agent may read and write, but only one agent ever read: advise
// names the unused grant and proposes the policy narrowed to what was
// used.
func ExampleRun() {
	ctx := context.Background()
	live, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - {id: read, effect: allow, tools: ["files.read"]}
  - {id: write, effect: allow, tools: ["files.write"]}
`), "yaml")
	st := memory.New()
	c, _ := agenttrust.New(st, agenttrust.WithPolicy(live),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}}))
	c.Check(ctx, agenttrust.Request{AgentID: "reporter", Tool: "files.read"})
	c.Close()

	rep, err := advise.Run(ctx, replay.Records(ctx, st, store.AuditQuery{}, 0), live, advise.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("unused grants:", rep.UnusedGrants)
	fmt.Print(rep.Diff)
	// Output:
	// unused grants: [write]
	//  rules:
	//      - id: read
	//        effect: allow
	// +      agents:
	// +        - reporter
	//        tools:
	//          - files.read
	// -    - id: write
	// -      effect: allow
	// -      tools:
	// -        - files.write
}
