package middleware_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

func ExampleGuard() {
	policy, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount <= 50"]
`), "yaml")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer c.Close()

	type Charge struct {
		Customer string  `agenttrust:"resource"`
		Amount   float64 `agenttrust:"attr,amount"`
	}
	charge := middleware.Guard(c, "payments.charge", func(_ context.Context, in Charge) (string, error) {
		return fmt.Sprintf("charged %s $%.2f", in.Customer, in.Amount), nil
	})

	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "session-1")
	out, err := charge(ctx, Charge{Customer: "cust-42", Amount: 40})
	fmt.Println(out, err)
	_, err = charge(ctx, Charge{Customer: "cust-42", Amount: 60})
	fmt.Println(errors.Is(err, middleware.ErrDenied), err)
	// Output:
	// charged cust-42 $40.00 <nil>
	// true agenttrust: denied: no rule allows this action
}
