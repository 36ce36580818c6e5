package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackClientSchemaDefaultUnchecked: ClientMiddleware guards the
// calls an agent makes to a server that checks nothing itself (a third
// party's). That server's SDK fills a typed tool's omitted arguments
// from its input schema's defaults, so a call that leaves out the
// customer or the amount was checked without them and served with the
// default: the deny of customer 100 and of charges over 100 did not hold
// for what the server then did. The client guard now reads the tool's
// schema as the server middleware does and refuses such a call as
// invalid; it never leaves the agent.
func TestAttackClientSchemaDefaultUnchecked(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: not-this-customer
    effect: deny
    tools: [crm.read]
    resources: ["100"]
  - id: no-big-charges
    effect: deny
    tools: [payments.charge]
    when: ["attr.amount? > 100"]
  - id: open
    effect: allow
    tools: [crm.read, payments.charge, orders.place]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	// The server checks nothing; the tools record what they act on.
	srv := sdk.NewServer(&sdk.Implementation{Name: "third-party", Version: "v1"}, &sdk.ServerOptions{PageSize: 1})
	var served []string
	serve := func(in any) {
		b, _ := json.Marshal(in)
		served = append(served, string(b))
	}
	type crmIn struct {
		Customer int64  `json:"customer"`
		Note     string `json:"note,omitempty"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "crm.read", InputSchema: json.RawMessage(`{"type":"object","properties":{
		"customer":{"type":"integer","default":100},"note":{"type":"string"}}}`)},
		func(ctx context.Context, req *sdk.CallToolRequest, in crmIn) (*sdk.CallToolResult, any, error) {
			serve(in)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "read"}}}, nil, nil
		})
	type chargeIn struct {
		Amount int64  `json:"amount"`
		Memo   string `json:"memo,omitempty"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "payments.charge", InputSchema: json.RawMessage(`{"type":"object","properties":{
		"amount":{"type":"integer","default":5000},"memo":{"type":"string"}}}`)},
		func(ctx context.Context, req *sdk.CallToolRequest, in chargeIn) (*sdk.CallToolResult, any, error) {
			serve(in)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "charged"}}}, nil, nil
		})
	type order struct {
		Item     string `json:"item"`
		Quantity int64  `json:"quantity"`
	}
	type placeIn struct {
		Order order `json:"order"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "orders.place", InputSchema: json.RawMessage(`{"type":"object","properties":{
		"order":{"type":"object","properties":{"item":{"type":"string"},"quantity":{"type":"integer","default":1000}}}}}`)},
		func(ctx context.Context, req *sdk.CallToolRequest, in placeIn) (*sdk.CallToolResult, any, error) {
			serve(in)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "placed"}}}, nil, nil
		})

	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(atmcp.ClientMiddleware(c, atmcp.ResourceArg("customer")))
	cs := connect(t, context.Background(), srv, client)
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "")

	for _, tc := range []struct {
		tool, args string
		allow      bool
	}{
		{"crm.read", `{}`, false},
		{"crm.read", `{"note":"hi"}`, false},
		{"crm.read", ``, false},
		{"payments.charge", `{}`, false},
		{"payments.charge", `{"memo":"lunch"}`, false},
		{"orders.place", `{"order":{"item":"bolts"}}`, false},
		{"orders.place", `{}`, false},
		// controls: every defaulted argument sent
		{"crm.read", `{"customer":42}`, true},
		{"payments.charge", `{"amount":40}`, true},
		{"orders.place", `{"order":{"item":"bolts","quantity":10}}`, true},
	} {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			served = nil
			var args any
			if tc.args != "" {
				args = json.RawMessage(tc.args)
			}
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tc.tool, Arguments: args})
			if tc.allow {
				if err != nil || res.IsError || len(served) != 1 {
					t.Errorf("control: err=%v served %v", err, served)
				}
				return
			}
			var de *middleware.DeniedError
			if !errors.As(err, &de) || !errors.Is(err, agenttrust.ErrInvalidRequest) || de.Decision.Effect != agenttrust.Deny {
				t.Errorf("err = %v, want a DeniedError for an invalid request", err)
			}
			if len(served) != 0 {
				t.Errorf("the server acted on %v, a value no check saw", served)
			}
		})
	}
}
