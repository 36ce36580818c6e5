package mcp_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackSchemaDefaultUnchecked: the SDK fills a typed tool's
// arguments from its input schema's defaults after the receiving
// middleware has checked them. A call that leaves out an argument with a
// default was checked without it (no resource, or a missing attribute
// that "attr.NAME?" lets pass) and served with the default: the deny of
// customer 100 and of charges over 100 did not hold for the customer and
// amount the tool then acted on, and a default inside an object argument
// reached the tool unseen. A call that leaves out such an argument
// is now refused as invalid, and the tool never runs.
func TestAttackSchemaDefaultUnchecked(t *testing.T) {
	c, srv, served := defaultsServer(t)
	srv.AddReceivingMiddleware(atmcp.ServerMiddleware(c, atmcp.ResourceArg("customer")))
	cs := connect(t, agenttrust.WithAgent(context.Background(), "billing-bot", ""), srv, nil)

	for _, tc := range []struct {
		tool, args string
		allow      bool
	}{
		{"crm.read", `{}`, false},
		{"crm.read", `{"note":"hi"}`, false},
		{"crm.read", ``, false},
		{"crm.read", `null`, false}, // the SDK panicked on it
		{"payments.charge", `{}`, false},
		{"payments.charge", `{"memo":"lunch"}`, false},
		{"orders.place", `{"order":{"item":"bolts"}}`, false},
		{"orders.place", `{}`, false},
		{"orders.place", `{"order":null}`, false},
		// controls: every defaulted argument sent
		{"crm.read", `{"customer":42}`, true},
		{"crm.read", `{"customer":100}`, false},
		{"payments.charge", `{"amount":40}`, true},
		{"payments.charge", `{"amount":5000}`, false},
		{"orders.place", `{"order":{"item":"bolts","quantity":10}}`, true},
	} {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			*served = nil
			var args any
			if tc.args != "" {
				args = json.RawMessage(tc.args)
			}
			res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tc.tool, Arguments: args})
			if err != nil {
				t.Fatal(err)
			}
			if tc.allow {
				if res.IsError || len(*served) != 1 {
					t.Errorf("control: IsError=%v text=%q served %v", res.IsError, text(res), *served)
				}
				return
			}
			if !res.IsError || len(*served) != 0 {
				t.Errorf("IsError=%v text=%q: the tool served %v, with a value no check saw", res.IsError, text(res), *served)
			}
			if !tc.allow && strings.Contains(tc.args, "{}") && !strings.Contains(text(res), "invalid") {
				t.Errorf("text %q, want a refusal for invalid arguments", text(res))
			}
		})
	}
}

// defaultsServer is a policy denying customer 100 and charges over 100,
// and a server checking nothing yet whose three typed tools give those
// (and an order's quantity) schema defaults. Each tool appends to served
// what it acted on.
func defaultsServer(t *testing.T) (c *agenttrust.Client, srv *sdk.Server, served *[]string) {
	t.Helper()
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
	c, err = agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	srv = sdk.NewServer(&sdk.Implementation{Name: "test", Version: "v1"}, &sdk.ServerOptions{PageSize: 1})
	served = new([]string)
	type crmIn struct {
		Customer int64  `json:"customer"`
		Note     string `json:"note,omitempty"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "crm.read", InputSchema: json.RawMessage(`{"type":"object","properties":{
		"customer":{"type":"integer","default":100},"note":{"type":"string"}}}`)},
		func(ctx context.Context, req *sdk.CallToolRequest, in crmIn) (*sdk.CallToolResult, any, error) {
			b, _ := json.Marshal(in)
			*served = append(*served, string(b))
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "read"}}}, nil, nil
		})
	type chargeIn struct {
		Amount int64  `json:"amount"`
		Memo   string `json:"memo,omitempty"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "payments.charge", InputSchema: json.RawMessage(`{"type":"object","properties":{
		"amount":{"type":"integer","default":5000},"memo":{"type":"string"}}}`)},
		func(ctx context.Context, req *sdk.CallToolRequest, in chargeIn) (*sdk.CallToolResult, any, error) {
			b, _ := json.Marshal(in)
			*served = append(*served, string(b))
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
			b, _ := json.Marshal(in)
			*served = append(*served, string(b))
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "placed"}}}, nil, nil
		})
	return c, srv, served
}
