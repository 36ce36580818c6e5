// Example adk: a Google ADK agent whose tool calls are checked by
// agenttrust. A scripted model stands in for the LLM (no network): it turns
// "charge N" into a call of the charge tool and "delete ID" into a call of
// delete_customer. One charge is allowed, a deletion is denied, and a big
// charge becomes an ADK tool confirmation that runs once a human has
// approved it in agenttrust.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log"
	"strconv"
	"strings"

	"google.golang.org/adk/v2/agent"
	"google.golang.org/adk/v2/agent/llmagent"
	"google.golang.org/adk/v2/model"
	"google.golang.org/adk/v2/plugin"
	"google.golang.org/adk/v2/runner"
	"google.golang.org/adk/v2/session"
	"google.golang.org/adk/v2/tool"
	"google.golang.org/adk/v2/tool/functiontool"
	"google.golang.org/adk/v2/tool/toolconfirmation"
	"google.golang.org/genai"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/adk"
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

	charge, err := functiontool.New(functiontool.Config{Name: "charge", Description: "Charge the customer."},
		func(_ agent.Context, in struct {
			Amount float64 `json:"amount"`
		}) (string, error) {
			fmt.Printf("    [tool] charged $%.2f\n", in.Amount)
			return "charged", nil
		})
	if err != nil {
		return err
	}
	del, err := functiontool.New(functiontool.Config{Name: "delete_customer", Description: "Delete a customer."},
		func(_ agent.Context, in struct {
			ID string `json:"id"`
		}) (string, error) {
			fmt.Printf("    [tool] deleted %s\n", in.ID)
			return "deleted", nil
		})
	if err != nil {
		return err
	}
	a, err := llmagent.New(llmagent.Config{Name: "billing-agent", Model: scripted{}, Tools: []tool.Tool{charge, del}})
	if err != nil {
		return err
	}
	guard, err := adk.Plugin(c)
	if err != nil {
		return err
	}
	r, err := runner.New(runner.Config{
		AppName: "billing", Agent: a, SessionService: session.InMemoryService(), AutoCreateSession: true,
		PluginConfig: runner.PluginConfig{Plugins: []*plugin.Plugin{guard}},
	})
	if err != nil {
		return err
	}

	for _, text := range []string{"charge 40", "delete cust-42", "charge 80"} {
		fmt.Printf("user: %s\n", text)
		confirm, err := turn(ctx, r, genai.NewContentFromText(text, genai.RoleUser))
		if err != nil {
			return err
		}
		if confirm == nil {
			continue
		}
		pending, err := pendingOf(confirm)
		if err != nil {
			return err
		}
		fmt.Printf("  held for approval %s (%s)\n", pending.ApprovalID, pending.Reason)
		if err := c.Approve(ctx, pending.ApprovalID, "alice@example.com", "ok"); err != nil {
			return err
		}
		fmt.Println("  alice approves in agenttrust; the app confirms to ADK")
		answer := &genai.Content{Role: genai.RoleUser, Parts: []*genai.Part{{FunctionResponse: &genai.FunctionResponse{
			ID: confirm.ID, Name: toolconfirmation.FunctionCallName, Response: map[string]any{"confirmed": true},
		}}}}
		if _, err := turn(ctx, r, answer); err != nil {
			return err
		}
	}
	return nil
}

// turn runs one user message and prints the tool results; it returns the
// confirmation ADK asks for, if any.
func turn(ctx context.Context, r *runner.Runner, msg *genai.Content) (*genai.FunctionCall, error) {
	var confirm *genai.FunctionCall
	for ev, err := range r.Run(ctx, "user-1", "session-1", msg, agent.RunConfig{}) {
		if err != nil {
			return nil, err
		}
		if ev.Content == nil {
			continue
		}
		for _, p := range ev.Content.Parts {
			switch {
			case p.FunctionCall != nil && p.FunctionCall.Name == toolconfirmation.FunctionCallName:
				confirm = p.FunctionCall
			case p.FunctionResponse != nil && p.FunctionResponse.Name != toolconfirmation.FunctionCallName:
				fmt.Printf("  %s -> %v\n", p.FunctionResponse.Name, p.FunctionResponse.Response)
			}
		}
	}
	return confirm, nil
}

func pendingOf(confirm *genai.FunctionCall) (adk.Pending, error) {
	var tc struct{ Payload adk.Pending }
	b, err := json.Marshal(confirm.Args["toolConfirmation"])
	if err == nil {
		err = json.Unmarshal(b, &tc)
	}
	return tc.Payload, err
}

// scripted is a stand-in model: it reads the last user text and asks for
// the matching tool call, and says "done" once it sees a tool's result.
type scripted struct{}

func (scripted) Name() string { return "scripted" }

func (scripted) GenerateContent(_ context.Context, req *model.LLMRequest, _ bool) iter.Seq2[*model.LLMResponse, error] {
	return func(yield func(*model.LLMResponse, error) bool) {
		last := req.Contents[len(req.Contents)-1]
		out := genai.NewContentFromText("done", genai.RoleModel)
		if len(last.Parts) > 0 && last.Parts[0].Text != "" {
			verb, arg, _ := strings.Cut(last.Parts[0].Text, " ")
			call := &genai.FunctionCall{Name: "delete_customer", Args: map[string]any{"id": arg}}
			if verb == "charge" {
				n, _ := strconv.ParseFloat(arg, 64)
				call = &genai.FunctionCall{Name: "charge", Args: map[string]any{"amount": n}}
			}
			out = &genai.Content{Role: genai.RoleModel, Parts: []*genai.Part{{FunctionCall: call}}}
		}
		yield(&model.LLMResponse{Content: out}, nil)
	}
}
