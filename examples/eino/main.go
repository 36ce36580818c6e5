// Example eino: a CloudWeGo Eino ChatModelAgent whose tool calls are
// checked by agenttrust. A scripted model stands in for the LLM (no
// network): it turns "charge N" into a call of the charge tool and
// "delete ID" into a call of delete_customer. One charge is allowed, a
// deletion is denied, and a big charge interrupts the run until a human
// approves it in agenttrust; the run then resumes from its checkpoint.
package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/eino"
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

	charge, err := utils.InferTool("charge", "Charge the customer.", func(_ context.Context, in struct {
		Amount float64 `json:"amount"`
	}) (string, error) {
		fmt.Printf("    [tool] charged $%.2f\n", in.Amount)
		return "charged", nil
	})
	if err != nil {
		return err
	}
	del, err := utils.InferTool("delete_customer", "Delete a customer.", func(_ context.Context, in struct {
		ID string `json:"id"`
	}) (string, error) {
		fmt.Printf("    [tool] deleted %s\n", in.ID)
		return "deleted", nil
	})
	if err != nil {
		return err
	}
	a, err := adk.NewChatModelAgent(ctx, &adk.ChatModelAgentConfig{
		Name: "billing", Description: "Bills customers.", Model: scripted{},
		ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: compose.ToolsNodeConfig{
			Tools:               []tool.BaseTool{charge, del},
			ToolCallMiddlewares: []compose.ToolMiddleware{eino.Middleware(c)},
		}},
	})
	if err != nil {
		return err
	}
	r := adk.NewRunner(ctx, adk.RunnerConfig{Agent: a, CheckPointStore: &checkpoints{m: map[string][]byte{}}})

	ctx = agenttrust.WithAgent(ctx, "billing-agent", "session-1")
	for i, text := range []string{"charge 40", "delete cust-42", "charge 80"} {
		fmt.Printf("user: %s\n", text)
		id := fmt.Sprintf("run-%d", i)
		interrupt, err := drain(r.Query(ctx, text, adk.WithCheckPointID(id)))
		if err != nil {
			return err
		}
		if interrupt == nil {
			continue
		}
		pending, ok := interrupt.Info.(*eino.Pending)
		if !ok {
			return fmt.Errorf("unexpected interrupt %v", interrupt.Info)
		}
		fmt.Printf("  interrupted: approval %s (%s)\n", pending.ApprovalID, pending.Reason)
		if err := c.Approve(ctx, pending.ApprovalID, "alice@example.com", "ok"); err != nil {
			return err
		}
		fmt.Println("  alice approves in agenttrust; the app resumes the run")
		it, err := r.ResumeWithParams(ctx, id, &adk.ResumeParams{Targets: map[string]any{interrupt.ID: nil}})
		if err != nil {
			return err
		}
		if _, err := drain(it); err != nil {
			return err
		}
	}
	return nil
}

// drain prints the tool results of a run and returns its interrupt, if any.
func drain(it *adk.AsyncIterator[*adk.AgentEvent]) (*adk.InterruptCtx, error) {
	var interrupt *adk.InterruptCtx
	for {
		ev, ok := it.Next()
		if !ok {
			return interrupt, nil
		}
		if ev.Err != nil {
			return nil, ev.Err
		}
		if ev.Action != nil && ev.Action.Interrupted != nil {
			for _, ic := range ev.Action.Interrupted.InterruptContexts {
				if ic.IsRootCause {
					interrupt = ic
				}
			}
		}
		if ev.Output != nil && ev.Output.MessageOutput != nil && ev.Output.MessageOutput.Role == schema.Tool {
			msg, err := ev.Output.MessageOutput.GetMessage()
			if err != nil {
				return nil, err
			}
			fmt.Printf("  %s -> %s\n", msg.ToolName, msg.Content)
		}
	}
}

// scripted is a stand-in model: it reads the last user text and asks for
// the matching tool call, and says "done" once it sees a tool's result.
type scripted struct{}

func (scripted) Generate(_ context.Context, in []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	last := in[len(in)-1]
	if last.Role != schema.User {
		return schema.AssistantMessage("done", nil), nil
	}
	verb, arg, _ := strings.Cut(last.Content, " ")
	call := schema.FunctionCall{Name: "delete_customer", Arguments: fmt.Sprintf(`{"id": %q}`, arg)}
	if verb == "charge" {
		call = schema.FunctionCall{Name: "charge", Arguments: fmt.Sprintf(`{"amount": %s}`, arg)}
	}
	return schema.AssistantMessage("", []schema.ToolCall{{ID: "call-1", Type: "function", Function: call}}), nil
}

func (s scripted) Stream(ctx context.Context, in []*schema.Message, opts ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	msg, err := s.Generate(ctx, in, opts...)
	return schema.StreamReaderFromArray([]*schema.Message{msg}), err
}

func (s scripted) WithTools([]*schema.ToolInfo) (model.ToolCallingChatModel, error) { return s, nil }

// checkpoints is an in-memory adk.CheckPointStore.
type checkpoints struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *checkpoints) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *checkpoints) Set(_ context.Context, key string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = v
	return nil
}
