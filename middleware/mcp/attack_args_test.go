package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store/memory"
)

// hostileArguments are tool arguments a policy and a tool could read
// differently: encoding/json keeps the last of two members and matches
// struct fields case-insensitively, so {"amount":1,"AMOUNT":1000000}
// would show a policy an amount of 1 and charge 1000000.
var hostileArguments = []string{
	`{"amount":1,"amount":1000000}`,
	`{"amount":1,"AMOUNT":1000000}`,
	`{"amount":1,"amoun\u0074":1000000}`,
	`{"amount":1,"k":1,"\u212a":2}`,
}

// allowAll allows every request and counts them.
func allowAll(n *atomic.Int32) agenttrust.Checker {
	return agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
		n.Add(1)
		return agenttrust.Decision{Effect: agenttrust.Allow}, nil
	})
}

// TestAttackHostileArguments: both middlewares refuse hostile arguments
// before the check, even for a checker that allows everything; the tool
// never runs, and the client's call never leaves.
func TestAttackHostileArguments(t *testing.T) {
	for _, args := range hostileArguments {
		t.Run("server "+args, func(t *testing.T) {
			var checks atomic.Int32
			srv, ran := newServer(atmcp.ServerMiddleware(allowAll(&checks)))
			res := call(t, connect(t, agentCtx, srv, nil), "payments.charge", json.RawMessage(args))
			if !res.IsError || !strings.Contains(text(res), "the tool call is invalid") {
				t.Errorf("IsError=%v text=%q, want a refusal for invalid arguments", res.IsError, text(res))
			}
			if ran.total() != 0 || checks.Load() != 0 {
				t.Errorf("handler ran %d times, checker asked %d times", ran.total(), checks.Load())
			}
		})
		t.Run("client "+args, func(t *testing.T) {
			var checks atomic.Int32
			srv, ran := newServer()
			client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
			client.AddSendingMiddleware(atmcp.ClientMiddleware(allowAll(&checks)))
			cs := connect(t, context.Background(), srv, client)
			_, err := cs.CallTool(agentCtx, &sdk.CallToolParams{Name: "payments.charge", Arguments: json.RawMessage(args)})
			var de *middleware.DeniedError
			if !errors.As(err, &de) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("err = %v, want a DeniedError for an invalid request", err)
			}
			if ran.total() != 0 || checks.Load() != 0 {
				t.Errorf("handler ran %d times, checker asked %d times", ran.total(), checks.Load())
			}
		})
	}
	// A map holds one name in two cases, and the SDK sends both.
	var checks atomic.Int32
	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(atmcp.ClientMiddleware(allowAll(&checks)))
	srv, ran := newServer()
	cs := connect(t, context.Background(), srv, client)
	_, err := cs.CallTool(agentCtx, &sdk.CallToolParams{Name: "payments.charge", Arguments: map[string]any{"amount": 1, "AMOUNT": 1000000}})
	if !errors.Is(err, middleware.ErrDenied) || !errors.Is(err, agenttrust.ErrInvalidRequest) || ran.total() != 0 || checks.Load() != 0 {
		t.Errorf("map with one name in two cases: err = %v, ran %d, checks %d", err, ran.total(), checks.Load())
	}
}

// TestAttackResourceArgNumberSpelling: the SDK hands a typed tool its
// arguments through a map of float64s, so {"customer":1e2} and
// {"customer":100.0} reach an int field as 100, and 2^53+1 as 2^53. A
// deny rule on those customers is not dodged by another spelling: the
// call is refused and the handler never runs.
func TestAttackResourceArgNumberSpelling(t *testing.T) {
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(&agenttrust.Policy{Rules: []agenttrust.Rule{
		{ID: "not-these", Effect: agenttrust.Deny, Tools: []string{"crm.read"}, Resources: []string{"100", "9007199254740992"}},
		{ID: "reads", Effect: agenttrust.Allow, Tools: []string{"crm.read"}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv := sdk.NewServer(&sdk.Implementation{Name: "test", Version: "v1"}, nil)
	var read []int64
	type in struct {
		Customer int64 `json:"customer"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "crm.read"}, func(ctx context.Context, req *sdk.CallToolRequest, args in) (*sdk.CallToolResult, any, error) {
		read = append(read, args.Customer)
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "read"}}}, nil, nil
	})
	srv.AddReceivingMiddleware(atmcp.ServerMiddleware(c, atmcp.ResourceArg("customer")))
	cs := connect(t, agenttrust.WithAgent(context.Background(), "billing-bot", ""), srv, nil)
	for _, args := range []string{`{"customer":1e2}`, `{"customer":100.0}`, `{"customer":0.1e3}`, `{"customer":9007199254740993}`} {
		t.Run(args, func(t *testing.T) {
			read = nil
			res := call(t, cs, "crm.read", json.RawMessage(args))
			if !res.IsError || len(read) != 0 {
				t.Errorf("IsError=%v text=%q, the tool read customer %v; want a refusal", res.IsError, text(res), read)
			}
		})
	}
	read = nil
	if res := call(t, cs, "crm.read", json.RawMessage(`{"customer":42}`)); res.IsError || len(read) != 1 || read[0] != 42 {
		t.Errorf("control: IsError=%v text=%q read %v", res.IsError, text(res), read)
	}
	read = nil
	if res := call(t, cs, "crm.read", json.RawMessage(`{"customer":100}`)); !res.IsError || len(read) != 0 {
		t.Errorf("control, the canonical spelling: IsError=%v text=%q read %v", res.IsError, text(res), read)
	}
}
