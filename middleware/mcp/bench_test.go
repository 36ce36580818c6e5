package mcp_test

import (
	"context"
	"encoding/json"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// BenchmarkMCPToolCall: one tools/call over the SDK's in-memory transport,
// through ServerMiddleware ("middleware"), against the same handler with
// no middleware making one Check of the same request itself
// ("handler+check"). The difference is what the middleware adds beyond
// the Check: reading the caller, parsing the arguments, building the
// request.
func BenchmarkMCPToolCall(b *testing.B) {
	c := newClient(b)
	req := agenttrust.Request{
		AgentID: "billing-bot", SessionID: "session-1", Tool: "payments.charge", Resource: "cust-1",
		Attributes: map[string]any{"customer": "cust-1", "amount": json.Number("40")},
	}
	// Fill the client's in-memory audit ring first, so both cases run
	// with the same live heap: with the SDK's garbage per call, how often
	// the collector runs depends on it.
	for range 12_000 {
		if d, err := c.Check(context.Background(), req); err != nil || !d.Allowed() {
			b.Fatal(d, err)
		}
	}
	if err := c.SyncAudit(context.Background()); err != nil {
		b.Fatal(err)
	}
	params := &sdk.CallToolParams{Name: "payments.charge", Arguments: map[string]any{"customer": "cust-1", "amount": 40}}
	newBenchServer := func(check func(context.Context) error) *sdk.Server {
		srv := sdk.NewServer(&sdk.Implementation{Name: "bench", Version: "v1"}, nil)
		srv.AddTool(&sdk.Tool{Name: "payments.charge", InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(ctx context.Context, _ *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
				if check != nil {
					if err := check(ctx); err != nil {
						return nil, err
					}
				}
				return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "charged"}}}, nil
			})
		return srv
	}
	call := func(b *testing.B, cs *sdk.ClientSession) {
		res, err := cs.CallTool(context.Background(), params)
		if err != nil || res.IsError {
			b.Fatalf("call failed: %v %v", err, res)
		}
	}

	guarded := newBenchServer(nil)
	guarded.AddReceivingMiddleware(atmcp.ServerMiddleware(c, atmcp.ResourceArg("customer")))
	plain := newBenchServer(func(ctx context.Context) error {
		d, err := c.Check(ctx, req)
		if err == nil && !d.Allowed() {
			err = &middleware.DeniedError{Decision: d}
		}
		return err
	})
	sessions := []struct {
		name string
		cs   *sdk.ClientSession
	}{
		{"middleware", connect(b, agentCtx, guarded, nil)},
		{"handler+check", connect(b, agentCtx, plain, nil)},
	}
	// Warm both paths, interleaved, before either is timed: the first
	// sub-benchmark of a run otherwise pays for the process warming up.
	for range 2000 {
		for _, s := range sessions {
			call(b, s.cs)
		}
	}
	for _, s := range sessions {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				call(b, s.cs)
			}
		})
	}
}
