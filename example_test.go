package agenttrust_test

import (
	"context"
	"errors"
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

// An agent's API key is exchanged for a short-lived token; the token is
// narrowed offline before it is handed to a sub-agent, which can then do
// less, never more.
func ExampleClient_Exchange() {
	policy, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - id: planner-payments
    effect: allow
    agents: [planner]
    tools: ["payments.*"]
`), "yaml")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer c.Close()
	ctx := context.Background()

	secret, _, _ := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner"})
	token, _ := c.Exchange(ctx, secret)
	worker, _ := agenttrust.Attenuate(token, "tool in payments.charge", "attr.amount <= 50")

	for _, req := range []agenttrust.Request{
		{Tool: "payments.refund", Credential: token, Attributes: map[string]any{"amount": 500}},
		{Tool: "payments.charge", Credential: worker, Attributes: map[string]any{"amount": 40}},
		{Tool: "payments.charge", Credential: worker, Attributes: map[string]any{"amount": 500}},
		{Tool: "payments.refund", Credential: worker, Attributes: map[string]any{"amount": 5}},
	} {
		d, err := c.Check(ctx, req)
		fmt.Println(req.Tool, req.Attributes["amount"], d.Effect, errors.Is(err, agenttrust.ErrCaveat))
	}
	// Output:
	// payments.refund 500 allow false
	// payments.charge 40 allow false
	// payments.charge 500 deny true
	// payments.refund 5 deny true
}

// NarrowJWT is what a token endpoint mints: a JWT for one audience (an
// MCP server's URI) made from a key, a token or a JWT, with every caveat
// of its source, a hop of its own and the agent role at most.
func ExampleClient_NarrowJWT() {
	const mcpServer = "https://mcp.example.com/mcp"
	policy, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - id: planner-payments
    effect: allow
    agents: [planner]
    tools: ["payments.*"]
`), "yaml")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy), agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{mcpServer}}))
	defer c.Close()
	ctx := context.Background()

	secret, _, _ := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner"})
	token, _ := c.Exchange(ctx, secret, "tool in payments.charge")
	jwt, hop, _ := c.NarrowJWT(ctx, token, mcpServer, 0, "attr.amount <= 50")

	for _, req := range []agenttrust.Request{
		{Tool: "payments.charge", Credential: jwt, Attributes: map[string]any{"amount": 40}},
		{Tool: "payments.charge", Credential: jwt, Attributes: map[string]any{"amount": 500}},
		{Tool: "payments.refund", Credential: jwt, Attributes: map[string]any{"amount": 5}},
	} {
		d, err := c.Check(ctx, req)
		fmt.Println(req.Tool, req.Attributes["amount"], d.Effect, errors.Is(err, agenttrust.ErrCaveat))
	}
	_ = c.Revoke(ctx, hop.ID)
	d, err := c.Check(ctx, agenttrust.Request{Tool: "payments.charge", Credential: jwt, Attributes: map[string]any{"amount": 1}})
	fmt.Println("after revoking its hop:", d.Effect, errors.Is(err, agenttrust.ErrRevoked))
	// Output:
	// payments.charge 40 allow false
	// payments.charge 500 deny true
	// payments.refund 5 deny true
	// after revoking its hop: deny true
}

// Revoking a key kills every token derived from it at once, however far
// it was narrowed and handed on.
func ExampleClient_Revoke() {
	policy, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - id: planner-reads
    effect: allow
    agents: [planner]
    tools: ["calendar.read"]
`), "yaml")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer c.Close()
	ctx := context.Background()

	secret, key, _ := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner"})
	token, _ := c.Exchange(ctx, secret)
	narrowed, _ := agenttrust.Attenuate(token, "session = s1")
	req := agenttrust.Request{Tool: "calendar.read", SessionID: "s1", Credential: narrowed}

	d, err := c.Check(ctx, req)
	fmt.Println(d.Effect, err)
	if err := c.Revoke(ctx, key.ID); err != nil {
		panic(err)
	}
	d, err = c.Check(ctx, req)
	fmt.Println(d.Effect, errors.Is(err, agenttrust.ErrRevoked), errors.Is(err, agenttrust.ErrUnauthorized))
	// Output:
	// allow <nil>
	// deny true true
}

// A failure is an error and a Deny; the sentinel says what kind.
func Example_errors() {
	c, _ := agenttrust.New(memory.New())
	defer c.Close()
	ctx := context.Background()

	_, err := c.Check(ctx, agenttrust.Request{Tool: "payments.charge", Credential: "att_forged"})
	fmt.Println(errors.Is(err, agenttrust.ErrUnauthorized), errors.Is(err, agenttrust.ErrMalformedCredential))
	_, err = c.Check(ctx, agenttrust.Request{AgentID: "a1"})
	fmt.Println(errors.Is(err, agenttrust.ErrInvalidRequest))
	d, err := c.Check(ctx, agenttrust.Request{AgentID: "a1", Tool: "payments.charge"})
	fmt.Println(d.Effect, err) // no rule allows it: a decision, not an error
	// Output:
	// true true
	// true
	// deny <nil>
}
