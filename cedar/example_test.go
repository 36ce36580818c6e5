package cedar_test

import (
	"context"
	"fmt"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	"github.com/agenttrust/agenttrust/store/memory"
)

func Example() {
	engine, err := cedar.Parse("policy.cedar", []byte(`
@id("small-charges")
permit (principal == Agent::"billing-bot", action == Action::"payments.charge", resource)
when { context.attr.amount <= 50 };

@id("big-charges")
@effect("needs_approval")
@approvers("finance-*")
@reason("charges over 50 need finance")
permit (principal == Agent::"billing-bot", action == Action::"payments.charge", resource)
when { context.attr.amount > 50 };

@id("no-refunds")
forbid (principal, action == Action::"payments.refund", resource);
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(engine))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	ctx := context.Background()
	for _, r := range []agenttrust.Request{
		{AgentID: "billing-bot", Tool: "payments.charge", Resource: "cust-42", Attributes: map[string]any{"amount": 40}},
		{AgentID: "billing-bot", Tool: "payments.charge", Resource: "cust-42", Attributes: map[string]any{"amount": 400}},
		{AgentID: "billing-bot", Tool: "payments.refund", Resource: "cust-42"},
		{AgentID: "billing-bot", Tool: "payments.charge", Resource: "cust-42"},
	} {
		d, err := client.Check(ctx, r)
		fmt.Printf("%s %v: %s, rule %q, %q (error: %v)\n", r.Tool, r.Attributes, d.Effect, d.Rule, d.Reason, err != nil)
	}
	// Output:
	// payments.charge map[amount:40]: allow, rule "small-charges", "allowed by policy" (error: false)
	// payments.charge map[amount:400]: needs_approval, rule "big-charges", "charges over 50 need finance" (error: false)
	// payments.refund map[]: deny, rule "no-refunds", "denied by policy" (error: false)
	// payments.charge map[]: deny, rule "", "policy engine failed" (error: true)
}
