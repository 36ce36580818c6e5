package agenttrust_test

import (
	"context"
	"fmt"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

func ExampleClient_Check() {
	policy, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount <= 50"]
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    reason: charges over 50 need a human
`), "yaml")
	if err != nil {
		panic(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, req := range []agenttrust.Request{
		{AgentID: "billing-bot", Tool: "payments.charge", Attributes: map[string]any{"amount": 40}},
		{AgentID: "billing-bot", Tool: "payments.refund", Attributes: map[string]any{"amount": 40}},
		{AgentID: "billing-bot", Tool: "payments.charge", Attributes: map[string]any{"amount": 400}},
	} {
		d, err := c.Check(ctx, req)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %v: %s (rule %q, approval pending: %v)\n", req.Tool, req.Attributes["amount"], d.Effect, d.Rule, d.ApprovalID != "")
	}
	// Output:
	// payments.charge 40: allow (rule "small-charges", approval pending: false)
	// payments.refund 40: deny (rule "", approval pending: false)
	// payments.charge 400: needs_approval (rule "big-charges", approval pending: true)
}

func ExampleClient_VerifyChain() {
	ring := agenttrust.NewMemorySink(100)
	c, _ := agenttrust.New(memory.New(), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{ring}}))
	c.Check(context.Background(), agenttrust.Request{AgentID: "a", Tool: "t"})
	c.Check(context.Background(), agenttrust.Request{AgentID: "a", Tool: "u"})
	c.Close() // flushes the audit

	recs := ring.Records()
	fmt.Println(len(recs), c.VerifyChain(recs))
	recs[0].Reason = "nothing to see here"
	fmt.Println(c.VerifyChain(recs))
	// Output:
	// 2 <nil>
	// agenttrust: audit chain broken at record 0 (seq 1): hash does not match contents under the audit key (record edited, forged or made with another key)
}
