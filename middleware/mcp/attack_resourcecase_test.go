package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// TestAttackResourceArgCaseVariant: ResourceArg reads the resource from
// a member spelled in another case ("Customer" for customer), as
// encoding/json would fill a field from it. The MCP SDK does not: it
// decodes a typed tool's arguments matching names exactly, so the tool
// read no customer at all ("", every customer to a report) while the
// check judged "cust-1", which the policy allows. Sent as {} the same
// call is denied. Both middlewares now refuse a resource argument that
// is not spelled as ResourceArg names it; the tool never runs, and the
// client's call never leaves.
func TestAttackResourceArgCaseVariant(t *testing.T) {
	c := newClient(t)
	srv := sdk.NewServer(&sdk.Implementation{Name: "test", Version: "v1"}, nil)
	var read []string
	type in struct {
		Customer string `json:"customer"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "reports.get", InputSchema: json.RawMessage(`{"type":"object","properties":{"customer":{"type":"string"}}}`)},
		func(ctx context.Context, req *sdk.CallToolRequest, args in) (*sdk.CallToolResult, any, error) {
			read = append(read, args.Customer)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "report"}}}, nil, nil
		})
	srv.AddReceivingMiddleware(atmcp.ServerMiddleware(c, atmcp.ResourceArg("customer")))
	cs := connect(t, agentCtx, srv, nil)

	unguarded, _ := newServer()
	sdk.AddTool(unguarded, &sdk.Tool{Name: "reports.get", InputSchema: json.RawMessage(`{"type":"object","properties":{"customer":{"type":"string"}}}`)},
		func(ctx context.Context, req *sdk.CallToolRequest, args in) (*sdk.CallToolResult, any, error) {
			read = append(read, args.Customer)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "report"}}}, nil, nil
		})
	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(atmcp.ClientMiddleware(c, atmcp.ResourceArg("customer")))
	guardedClient := connect(t, context.Background(), unguarded, client)

	for _, args := range []string{
		`{"Customer":"cust-1"}`,
		`{"CUSTOMER":"cust-1"}`,
		`{"cUsToMeR":"cust-1"}`,
	} {
		t.Run("server "+args, func(t *testing.T) {
			read = nil
			res := call(t, cs, "reports.get", json.RawMessage(args))
			if !res.IsError || !strings.Contains(text(res), "the tool call is invalid") {
				t.Errorf("IsError=%v text=%q, want a refusal for invalid arguments", res.IsError, text(res))
			}
			if len(read) != 0 {
				t.Errorf("the tool read customer %q, the check judged cust-1", read)
			}
		})
		t.Run("client "+args, func(t *testing.T) {
			read = nil
			_, err := guardedClient.CallTool(agentCtx, &sdk.CallToolParams{Name: "reports.get", Arguments: json.RawMessage(args)})
			var de *middleware.DeniedError
			if !errors.As(err, &de) || !errors.Is(err, agenttrust.ErrInvalidRequest) || de.Decision.Effect != agenttrust.Deny {
				t.Errorf("err = %v, want a DeniedError for an invalid request", err)
			}
			if len(read) != 0 {
				t.Errorf("the tool read customer %q, the check judged cust-1", read)
			}
		})
	}
	// Controls: the exact spelling is judged and served; no customer is denied.
	read = nil
	if res := call(t, cs, "reports.get", json.RawMessage(`{"customer":"cust-1"}`)); res.IsError || len(read) != 1 || read[0] != "cust-1" {
		t.Errorf("control: IsError=%v text=%q read %q", res.IsError, text(res), read)
	}
	read = nil
	if res := call(t, cs, "reports.get", json.RawMessage(`{}`)); !res.IsError || len(read) != 0 {
		t.Errorf("control, no customer: IsError=%v text=%q read %q", res.IsError, text(res), read)
	}
	read = nil
	if _, err := guardedClient.CallTool(agentCtx, &sdk.CallToolParams{Name: "reports.get", Arguments: map[string]any{"customer": "cust-1"}}); err != nil || len(read) != 1 {
		t.Errorf("client control: err=%v read %q", err, read)
	}
}
