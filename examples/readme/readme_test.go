package readme_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

// Charge is the tool input of the README's first snippet.
type Charge struct {
	Customer string  `agenttrust:"resource"`
	Amount   float64 `agenttrust:"attr,amount"`
}

type Receipt struct{ Text string }

func pay(in Charge) (Receipt, error) {
	return Receipt{Text: fmt.Sprintf("charged %s %.2f", in.Customer, in.Amount)}, nil
}

// The README's first snippet, with policy.yaml (the README's YAML).
func TestIntro(t *testing.T) {
	policy, _ := agenttrust.LoadPolicyFile("policy.yaml")
	client, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer client.Close()

	// The tool body runs only if the decision is Allow.
	charge := middleware.Guard(client, "payments.charge",
		func(ctx context.Context, in Charge) (Receipt, error) { return pay(in) })

	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "session-1")
	receipt, err := charge(ctx, Charge{Customer: "cust-42", Amount: 40})
	if err != nil || receipt.Text != "charged cust-42 40.00" {
		t.Fatalf("charge 40 = %+v, %v", receipt, err)
	}
	if _, err := charge(ctx, Charge{Customer: "cust-42", Amount: 400}); !errors.Is(err, middleware.ErrApprovalRequired) {
		t.Fatalf("charge 400: %v, want ErrApprovalRequired", err)
	}
	// A negative charge is a refund by another name: no rule allows it.
	if _, err := charge(ctx, Charge{Customer: "cust-42", Amount: -40}); !errors.Is(err, middleware.ErrDenied) {
		t.Fatalf("charge -40: %v, want ErrDenied", err)
	}
	if _, err := charge(agenttrust.WithAgent(context.Background(), "other-bot", "s"), Charge{Customer: "c", Amount: 1}); !errors.Is(err, middleware.ErrDenied) {
		t.Fatalf("another agent: %v, want ErrDenied", err)
	}
}

// The README's Credentials snippet, under the README's policy.yaml.
func TestCredentials(t *testing.T) {
	policy, err := agenttrust.LoadPolicyFile("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	client, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer client.Close()
	ctx := context.Background()

	secret, key, _ := client.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"}) // atk_…, shown once
	token, _ := client.Exchange(ctx, secret)                                            // att_…, 5 minutes
	worker, _ := agenttrust.Attenuate(token, "tool in payments.charge", "attr.amount <= 50")
	decision, err := client.Check(ctx, agenttrust.Request{Tool: "payments.charge", Credential: worker,
		Attributes: map[string]any{"amount": 40}})
	if err != nil || !decision.Allowed() {
		t.Fatalf("worker charge 40 = %v, %v", decision.Effect, err)
	}
	over, err := client.Check(ctx, agenttrust.Request{Tool: "payments.charge", Credential: worker, Attributes: map[string]any{"amount": 60}})
	if over.Allowed() || !errors.Is(err, agenttrust.ErrCaveat) {
		t.Fatalf("worker charge 60 = %v, %v", over.Effect, err)
	}
	client.Revoke(ctx, key.ID) // every token derived from the key dies at once
	after, err := client.Check(ctx, agenttrust.Request{Tool: "payments.charge", Credential: worker, Attributes: map[string]any{"amount": 40}})
	if after.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
		t.Fatalf("after Revoke = %v, %v", after.Effect, err)
	}
}
