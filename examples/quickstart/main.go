// Quickstart: an agent whose tools are guarded by agenttrust. One call is
// allowed, one denied, one held for a human's approval and then approved;
// the agent is then suspended and stopped; finally the audit chain is
// verified.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 0", "attr.amount <= 50"]
    reason: charges up to $50 are routine
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    reason: charges over $50 need a human
  - id: no-deletes
    effect: deny
    tools: ["*.delete"]
    reason: agents never delete customer data
`

// Charge is the tool's input; struct tags feed the authorization request.
type Charge struct {
	Customer string  `agenttrust:"resource"`
	Amount   float64 `agenttrust:"attr,amount"`
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		return err
	}
	trail := audit.NewMemorySink(100)
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{trail}}))
	if err != nil {
		return err
	}
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "session-1")

	// The agent's tools, each wrapped by a Guard: the function body runs
	// only when the decision is Allow.
	charge := middleware.Guard(c, "payments.charge", func(_ context.Context, in Charge) (string, error) {
		return fmt.Sprintf("charged %s $%.2f", in.Customer, in.Amount), nil
	})
	deleteCustomer := middleware.Guard(c, "customers.delete", func(_ context.Context, id string) (string, error) {
		return "deleted " + id, nil
	}, middleware.Resource(func(id string) string { return id }))

	step := func(what string, out string, err error) {
		switch {
		case err == nil:
			fmt.Printf("%-34s ALLOWED   %s\n", what, out)
		case errors.Is(err, middleware.ErrApprovalRequired):
			var ae *middleware.ApprovalRequiredError
			errors.As(err, &ae)
			fmt.Printf("%-34s HELD      %s (approval %s)\n", what, ae.Decision.Reason, ae.ApprovalID)
		default:
			var de *middleware.DeniedError
			errors.As(err, &de)
			fmt.Printf("%-34s DENIED    %s\n", what, de.Decision.Reason)
		}
	}

	out, err := charge(ctx, Charge{Customer: "cust-42", Amount: 40})
	step("charge cust-42 $40", out, err)

	out, err = deleteCustomer(ctx, "cust-42")
	step("delete cust-42", out, err)

	out, err = charge(ctx, Charge{Customer: "cust-42", Amount: 120})
	step("charge cust-42 $120", out, err)

	// A human approves the held charge; the identical call now goes
	// through, once.
	var ae *middleware.ApprovalRequiredError
	if errors.As(err, &ae) {
		if err := c.Approve(context.Background(), ae.ApprovalID, "alice@example.com", "customer confirmed by phone"); err != nil {
			return err
		}
		fmt.Printf("%-34s approved by alice@example.com\n", "")
	}
	out, err = charge(ctx, Charge{Customer: "cust-42", Amount: 120})
	step("charge cust-42 $120 (retry)", out, err)

	// The kill switch: suspended, the agent is stopped on its next call.
	if err := c.Suspend(context.Background(), "billing-bot", "unusual activity"); err != nil {
		return err
	}
	out, err = charge(ctx, Charge{Customer: "cust-7", Amount: 5})
	step("charge cust-7 $5 (suspended)", out, err)

	// Close flushes the audit trail; then check its hash chain.
	if err := c.Close(); err != nil {
		return err
	}
	recs := trail.Records()
	fmt.Printf("\naudit trail: %d records\n", len(recs))
	for _, r := range recs {
		fmt.Printf("  #%d %-16s %-15s %-14s %s\n", r.Seq, r.Tool, r.Resource, r.Effect, r.Reason)
	}
	if err := c.VerifyChain(recs); err != nil {
		fmt.Println("audit chain: BROKEN:", err)
		os.Exit(1)
	}
	fmt.Printf("audit chain: verified, head %s…\n", recs[len(recs)-1].Hash.String()[:16])
	return nil
}
