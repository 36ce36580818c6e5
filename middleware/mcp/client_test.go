package mcp_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

func TestClientMiddleware(t *testing.T) {
	c := newClient(t)
	// The server counts every tools/call that reaches it, before any tool.
	var received atomic.Int32
	counter := func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			if method == "tools/call" {
				received.Add(1)
			}
			return next(ctx, method, req)
		}
	}
	srv, ran := newServer(counter)
	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(atmcp.ClientMiddleware(c, atmcp.ResourceArg("customer")))
	cs := connect(t, context.Background(), srv, client)

	tests := []struct {
		name string
		ctx  context.Context
		tool string
		args map[string]any
		is   error // nil: allowed
	}{
		{"allowed", agentCtx, "payments.charge", map[string]any{"customer": "cust-1", "amount": 40}, nil},
		{"resource allowed", agentCtx, "reports.get", map[string]any{"customer": "cust-1"}, nil},
		{"denied", agentCtx, "customers.delete", map[string]any{"customer": "cust-1"}, middleware.ErrDenied},
		{"resource denied", agentCtx, "reports.get", map[string]any{"customer": "acme"}, middleware.ErrDenied},
		{"needs approval", agentCtx, "payments.charge", map[string]any{"amount": 120}, middleware.ErrApprovalRequired},
		{"no identity", context.Background(), "calendar.read", nil, agenttrust.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := received.Load()
			res, err := cs.CallTool(tt.ctx, &sdk.CallToolParams{Name: tt.tool, Arguments: tt.args})
			if tt.is == nil {
				if err != nil || res.IsError || received.Load() != before+1 {
					t.Fatalf("allowed call: err=%v", err)
				}
				return
			}
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if received.Load() != before {
				t.Error("refused call reached the server")
			}
		})
	}
	var de *middleware.DeniedError
	_, err := cs.CallTool(agentCtx, &sdk.CallToolParams{Name: "customers.delete"})
	if !errors.As(err, &de) || de.Decision.Rule != "no-deletes" {
		t.Errorf("err = %v, want a DeniedError naming rule no-deletes", err)
	}
	var ae *middleware.ApprovalRequiredError
	_, err = cs.CallTool(agentCtx, &sdk.CallToolParams{Name: "payments.charge", Arguments: map[string]any{"amount": 99}})
	if !errors.As(err, &ae) || ae.ApprovalID == "" {
		t.Errorf("err = %v, want an ApprovalRequiredError with an id", err)
	}
	if ran.get("customers.delete") != 0 {
		t.Error("denied tool ran")
	}
	// Other methods pass untouched.
	if got := toolNames(t, cs); len(got) != len(testTools) {
		t.Errorf("tools = %v", got)
	}
}

func TestClientMiddlewareNilChecker(t *testing.T) {
	srv, ran := newServer()
	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(atmcp.ClientMiddleware(nil))
	cs := connect(t, context.Background(), srv, client)
	_, err := cs.CallTool(agentCtx, &sdk.CallToolParams{Name: "calendar.read"})
	if !errors.Is(err, middleware.ErrDenied) || !errors.Is(err, agenttrust.ErrInvalidConfig) || ran.total() != 0 {
		t.Errorf("err = %v", err)
	}
}

// TestClientMiddlewareMethods: a read the agent's policy allows is sent;
// one it does not allow, for its resource or its query, never reaches
// the server.
func TestClientMiddlewareMethods(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: reports
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.resources/read"]
    resources: ["file:///data/*"]
  - id: no-old-versions
    effect: deny
    tools: ["mcp.resources/read"]
    when: ["attr.query? = v1"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p))
	srv, ran := newMethodServer()
	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(atmcp.ClientMiddleware(c))
	cs := connect(t, context.Background(), srv, client)

	for _, uri := range []string{"file:///data/report.txt"} {
		if _, err := cs.ReadResource(agentCtx, &sdk.ReadResourceParams{URI: uri}); err != nil {
			t.Errorf("allowed read %s: %v", uri, err)
		}
	}
	for _, uri := range []string{"file:///data/report.txt?v1", "file:///other/report.txt"} {
		if _, err := cs.ReadResource(agentCtx, &sdk.ReadResourceParams{URI: uri}); !errors.Is(err, middleware.ErrDenied) {
			t.Errorf("read %s: err = %v, want ErrDenied", uri, err)
		}
	}
	if n := ran.get("resources/read"); n != 1 {
		t.Errorf("the server read %d times, want 1", n)
	}
}
