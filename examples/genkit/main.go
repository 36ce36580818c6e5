// Example genkit: a Firebase Genkit Go generation whose tool calls are
// checked by agenttrust. A scripted model stands in for the LLM (no
// network): it turns "charge N" into a call of the charge tool and
// "delete ID" into a call of delete_customer. One charge is allowed, a
// deletion is denied, and a big charge interrupts the generation until a
// human approves it in agenttrust; the tool is then restarted.
package main

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"strings"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"

	"github.com/agenttrust/agenttrust"
	atgenkit "github.com/agenttrust/agenttrust/middleware/genkit"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-agent]
    tools: [charge]
    when: ["attr.amount <= 50"]
  - id: big-charges
    effect: needs_approval
    agents: [billing-agent]
    tools: [charge]
    when: ["attr.amount > 50"]
    reason: charges over $50 need a human
  - id: no-deletes
    effect: deny
    tools: [delete_customer]
    reason: agents never delete customers
`

type chargeInput struct {
	Amount float64 `json:"amount"`
}

type deleteInput struct {
	ID string `json:"id"`
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		return err
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		return err
	}
	defer c.Close()

	g := genkit.Init(ctx)
	charge := genkit.DefineTool(g, "charge", "Charge the customer.", func(_ *ai.ToolContext, in chargeInput) (string, error) {
		fmt.Printf("    [tool] charged $%.2f\n", in.Amount)
		return "charged", nil
	})
	del := genkit.DefineTool(g, "delete_customer", "Delete a customer.", func(_ *ai.ToolContext, in deleteInput) (string, error) {
		fmt.Printf("    [tool] deleted %s\n", in.ID)
		return "deleted", nil
	})
	model := genkit.DefineModel(g, "example/scripted", &ai.ModelOptions{Supports: &ai.ModelSupports{Multiturn: true, Tools: true}}, scripted)
	common := []ai.GenerateOption{ai.WithModel(model), ai.WithTools(charge, del), ai.WithUse(atgenkit.Middleware(c))}

	ctx = agenttrust.WithAgent(ctx, "billing-agent", "session-1")
	for _, text := range []string{"charge 40", "delete cust-42", "charge 80"} {
		fmt.Printf("user: %s\n", text)
		resp, err := genkit.Generate(ctx, g, append(common, ai.WithPrompt(text))...)
		if err != nil {
			return err
		}
		printTools(resp)
		if resp.FinishReason != ai.FinishReasonInterrupted {
			continue
		}
		part := resp.Interrupts()[0]
		pending, ok := ai.InterruptAs[atgenkit.Pending](part)
		if !ok {
			return fmt.Errorf("unexpected interrupt %v", part.Metadata)
		}
		fmt.Printf("  interrupted: approval %s (%s)\n", pending.ApprovalID, pending.Reason)
		if err := c.Approve(ctx, pending.ApprovalID, "alice@example.com", "ok"); err != nil {
			return err
		}
		fmt.Println("  alice approves in agenttrust; the app restarts the tool")
		resp, err = genkit.Generate(ctx, g, append(common,
			ai.WithMessages(resp.History()...), ai.WithToolRestarts(charge.Restart(part, nil)))...)
		if err != nil {
			return err
		}
		printTools(resp)
	}
	return nil
}

// printTools prints the tool responses of the last turn.
func printTools(resp *ai.ModelResponse) {
	h := resp.History()
	for i := len(h) - 1; i >= 0 && h[i].Role != ai.RoleUser; i-- {
		if h[i].Role != ai.RoleTool {
			continue
		}
		for _, p := range h[i].Content {
			if p.IsToolResponse() {
				fmt.Printf("  %s -> %v\n", p.ToolResponse.Name, p.ToolResponse.Output)
			}
		}
	}
}

// scripted is a stand-in model: it reads the last user text and asks for
// the matching tool call, and says "done" once it sees a tool's result.
func scripted(_ context.Context, req *ai.ModelRequest, _ ai.ModelStreamCallback) (*ai.ModelResponse, error) {
	last := req.Messages[len(req.Messages)-1]
	if last.Role != ai.RoleUser {
		return &ai.ModelResponse{Request: req, Message: ai.NewModelTextMessage("done")}, nil
	}
	verb, arg, _ := strings.Cut(last.Text(), " ")
	call := &ai.ToolRequest{Name: "delete_customer", Ref: "call-1", Input: map[string]any{"id": arg}}
	if verb == "charge" {
		n, _ := strconv.ParseFloat(arg, 64)
		call = &ai.ToolRequest{Name: "charge", Ref: "call-1", Input: map[string]any{"amount": n}}
	}
	return &ai.ModelResponse{Request: req, Message: ai.NewModelMessage(ai.NewToolRequestPart(call))}, nil
}
