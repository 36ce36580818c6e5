// MCP: an MCP server whose tools are guarded by agenttrust, driven by an
// MCP client in the same program over the SDK's in-memory transport. The
// agent is shown only the tools it may call; one call is allowed, one is
// denied and never reaches its tool, one is held for a person's approval
// and then goes through; finally an agent guarded on its own side is
// stopped before its call leaves it.
//
// Over HTTP the agent would come from its bearer token instead:
// auth.RequireBearerToken(atmcp.TokenVerifier(client, resourceURI), ...)
// around mcp.NewStreamableHTTPHandler (see the package's ExampleTokenVerifier).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/middleware"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount <= 50"]
    reason: charges up to $50 are routine
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    reason: charges over $50 need a human
  - id: calendar
    effect: allow
    agents: [billing-bot]
    tools: [calendar.read]
  - id: no-deletes
    effect: deny
    tools: ["*.delete"]
    reason: agents never delete customer data
`

// Charge is the input of payments.charge; the middleware sees the same
// arguments as attributes (attr.amount) and takes the resource from
// "customer".
type Charge struct {
	Customer string  `json:"customer" jsonschema:"the customer to charge"`
	Amount   float64 `json:"amount" jsonschema:"the amount in dollars"`
}

type Customer struct {
	Customer string `json:"customer"`
}

type Empty struct{}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		return err
	}
	trail := audit.NewMemorySink(100)
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{trail}}))
	if err != nil {
		return err
	}
	filter, err := atmcp.PolicyListFilter(p)
	if err != nil {
		return err
	}

	// The server: four tools, each counting its runs.
	var mu sync.Mutex
	runs := map[string]int{}
	ran := func(tool, out string) (*mcp.CallToolResult, any, error) {
		mu.Lock()
		runs[tool]++
		mu.Unlock()
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: out}}}, nil, nil
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "billing", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "payments.charge", Description: "Charge a customer"},
		func(_ context.Context, _ *mcp.CallToolRequest, in Charge) (*mcp.CallToolResult, any, error) {
			return ran("payments.charge", fmt.Sprintf("charged %s $%.2f", in.Customer, in.Amount))
		})
	mcp.AddTool(server, &mcp.Tool{Name: "calendar.read", Description: "Read the calendar"},
		func(context.Context, *mcp.CallToolRequest, Empty) (*mcp.CallToolResult, any, error) {
			return ran("calendar.read", "no meetings today")
		})
	mcp.AddTool(server, &mcp.Tool{Name: "customers.delete", Description: "Delete a customer"},
		func(_ context.Context, _ *mcp.CallToolRequest, in Customer) (*mcp.CallToolResult, any, error) {
			return ran("customers.delete", "deleted "+in.Customer)
		})
	mcp.AddTool(server, &mcp.Tool{Name: "admin.shutdown", Description: "Stop the billing system"},
		func(context.Context, *mcp.CallToolRequest, Empty) (*mcp.CallToolResult, any, error) {
			return ran("admin.shutdown", "shutting down")
		})
	// Count every tools/call that reaches the server at all, guarded or
	// not (the first middleware given runs first).
	received := 0
	server.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "tools/call" {
				mu.Lock()
				received++
				mu.Unlock()
			}
			return next(ctx, method, req)
		}
	}, atmcp.ServerMiddleware(c, atmcp.ResourceArg("customer"), atmcp.WithListFilter(filter)))

	// One agent, connected in memory; the server session's context says
	// who it is.
	agent, err := connect(ctx, server, agenttrust.WithAgent(ctx, "billing-bot", "session-1"), nil)
	if err != nil {
		return err
	}
	defer agent.Close()

	tools, err := agent.ListTools(ctx, nil)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tools.Tools {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	fmt.Printf("tools/list (4 tools on the server): %v\n\n", names)

	step := func(what, tool string, args any) (*mcp.CallToolResult, error) {
		mu.Lock()
		before := runs[tool]
		mu.Unlock()
		res, err := agent.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			return nil, err
		}
		mu.Lock()
		after := runs[tool]
		mu.Unlock()
		verdict := "ALLOWED"
		switch {
		case res.IsError && res.Meta[atmcp.MetaEffect] == "needs_approval":
			verdict = "HELD"
		case res.IsError:
			verdict = "DENIED"
		}
		fmt.Printf("%-30s %-8s tool ran %d time(s)\n  %s\n", what, verdict, after-before, res.Content[0].(*mcp.TextContent).Text)
		return res, nil
	}

	if _, err := step("charge cust-42 $40", "payments.charge", Charge{"cust-42", 40}); err != nil {
		return err
	}
	if _, err := step("delete cust-42", "customers.delete", Customer{"cust-42"}); err != nil {
		return err
	}
	if _, err := step("admin.shutdown (not listed)", "admin.shutdown", Empty{}); err != nil {
		return err
	}
	res, err := step("charge cust-42 $120", "payments.charge", Charge{"cust-42", 120})
	if err != nil {
		return err
	}
	if id, ok := res.Meta[atmcp.MetaApprovalID].(string); ok {
		if err := c.Approve(ctx, id, "alice@example.com", "customer confirmed by phone"); err != nil {
			return err
		}
		fmt.Printf("%-30s approval %s granted by alice@example.com\n", "", id)
	}
	if _, err := step("charge cust-42 $120 (retry)", "payments.charge", Charge{"cust-42", 120}); err != nil {
		return err
	}

	// An agent that checks its own calls before they leave it: the
	// refused call fails in the agent and the server never hears of it.
	guarded := mcp.NewClient(&mcp.Implementation{Name: "careful-agent", Version: "v1"}, nil)
	guarded.AddSendingMiddleware(atmcp.ClientMiddleware(c, atmcp.ResourceArg("customer")))
	careful, err := connect(ctx, server, agenttrust.WithAgent(ctx, "billing-bot", "session-2"), guarded)
	if err != nil {
		return err
	}
	defer careful.Close()
	mu.Lock()
	before := received
	mu.Unlock()
	_, err = careful.CallTool(agenttrust.WithAgent(ctx, "billing-bot", "session-2"),
		&mcp.CallToolParams{Name: "customers.delete", Arguments: Customer{"cust-7"}})
	mu.Lock()
	after := received
	mu.Unlock()
	fmt.Printf("\nclient-side check, delete cust-7: denied locally=%v, reached the server %d time(s)\n  %s\n",
		errors.Is(err, middleware.ErrDenied), after-before, middleware.ToolResultMessage(err))

	if err := c.Close(); err != nil {
		return err
	}
	recs := trail.Records()
	fmt.Printf("\naudit trail: %d records\n", len(recs))
	for _, r := range recs {
		fmt.Printf("  #%d %-17s %-8s %-14s %s\n", r.Seq, r.Tool, r.Resource, r.Effect, r.Reason)
	}
	if err := c.VerifyChain(recs); err != nil {
		return fmt.Errorf("audit chain broken: %w", err)
	}
	fmt.Println("audit chain: verified")
	return nil
}

// connect starts a server session whose requests derive from serverCtx and
// joins client (a plain one if nil) to it over the in-memory transport.
func connect(ctx context.Context, server *mcp.Server, serverCtx context.Context, client *mcp.Client) (*mcp.ClientSession, error) {
	st, ct := mcp.NewInMemoryTransports()
	if _, err := server.Connect(serverCtx, st, nil); err != nil {
		return nil, err
	}
	if client == nil {
		client = mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil)
	}
	return client.Connect(ctx, ct, nil)
}
