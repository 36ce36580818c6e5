package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// TestAttackUncheckedMethods: ServerMiddleware checked only tools/call,
// so an MCP server that exposes a file as a resource, or a prompt, handed
// it to any agent whatever the policy said: under a policy that allows no
// such thing (testPolicy names no resource, prompt or completion), the
// agent read file:///data/secret.txt, got the prompts, had file names
// completed and subscribed to changes. A prompt named like a tool the
// agent may call (payments.charge) was no exception. Every method that
// reads or acts is now checked, and refused with a JSON-RPC error before
// its handler runs.
func TestAttackUncheckedMethods(t *testing.T) {
	c := newClient(t)
	srv, ran := newMethodServer(atmcp.ServerMiddleware(c))
	cs := connect(t, agentCtx, srv, nil)
	ctx := context.Background()

	tests := []struct {
		name   string
		method string // whose handler must not run
		do     func() error
	}{
		{"read a resource", "resources/read", func() error {
			_, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/secret.txt"})
			return err
		}},
		{"read through a template", "resources/read", func() error {
			_, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/salaries.csv"})
			return err
		}},
		{"get a prompt", "prompts/get", func() error {
			_, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "summarize", Arguments: map[string]string{"topic": "layoffs"}})
			return err
		}},
		{"prompt named like an allowed tool", "prompts/get", func() error {
			_, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "payments.charge", Arguments: map[string]string{"amount": "10"}})
			return err
		}},
		{"complete a prompt argument", "completion/complete", func() error {
			_, err := cs.Complete(ctx, &sdk.CompleteParams{Ref: &sdk.CompleteReference{Type: "ref/prompt", Name: "summarize"}, Argument: sdk.CompleteParamsArgument{Name: "topic", Value: "s"}})
			return err
		}},
		{"complete a template's file names", "completion/complete", func() error {
			_, err := cs.Complete(ctx, &sdk.CompleteParams{Ref: &sdk.CompleteReference{Type: "ref/resource", URI: "file:///data/{name}"}, Argument: sdk.CompleteParamsArgument{Name: "name", Value: "s"}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ran.get(tt.method)
			assertDenied(t, tt.do())
			if n := ran.get(tt.method) - before; n != 0 {
				t.Errorf("the %s handler ran %d times", tt.method, n)
			}
		})
	}

	// Subscriptions (which the SDK's client makes in the background, with
	// subscriptions/listen under the current protocol) and custom
	// methods: called on the middleware directly, as the server would.
	direct := []struct {
		name   string
		method string
		req    sdk.Request
	}{
		{"subscribe to a resource", "resources/subscribe", &sdk.SubscribeRequest{Params: &sdk.SubscribeParams{URI: "file:///data/secret.txt"}}},
		{"listen to a resource", "subscriptions/listen", &sdk.SubscriptionsListenRequest{Params: &sdk.SubscriptionsListenParams{
			Notifications: &sdk.NotificationSubscriptions{ResourceSubscriptions: []string{"file:///data/secret.txt"}},
		}}},
		{"a custom method", "acme/export", &sdk.ServerRequest[*sdk.CompleteParams]{Params: &sdk.CompleteParams{}}},
	}
	for _, tt := range direct {
		t.Run(tt.name, func(t *testing.T) {
			reached := false
			h := atmcp.ServerMiddleware(c)(func(context.Context, string, sdk.Request) (sdk.Result, error) {
				reached = true
				return nil, nil
			})
			_, err := h(agentCtx, tt.method, tt.req)
			assertDenied(t, err)
			if reached {
				t.Errorf("%s reached its handler", tt.method)
			}
		})
	}
}

// TestAttackToolNamedLikeMethod: a request other than a tool call is
// checked as the Tool "mcp." and its method. A tool given such a name
// (the SDK only logs that a '/' is not allowed in one) would be called
// under a rule written for reading prompts; it is refused as invalid.
func TestAttackToolNamedLikeMethod(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: prompts
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.prompts/get"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p))
	srv, ran := newServer(atmcp.ServerMiddleware(c))
	srv.AddTool(&sdk.Tool{Name: "mcp.prompts/get", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			ran.mu.Lock()
			ran.n["mcp.prompts/get"]++
			ran.mu.Unlock()
			return &sdk.CallToolResult{}, nil
		})
	cs := connect(t, agentCtx, srv, nil)
	res := call(t, cs, "mcp.prompts/get", map[string]any{})
	if !res.IsError || res.Meta[atmcp.MetaEffect] != agenttrust.Deny.String() {
		t.Errorf("IsError=%v meta=%v text=%q, want a denial", res.IsError, res.Meta, text(res))
	}
	if n := ran.get("mcp.prompts/get"); n != 0 {
		t.Errorf("the tool ran %d times", n)
	}
}

// assertDenied fails unless err is the JSON-RPC error of a denial, whose
// data says deny.
func assertDenied(t *testing.T, err error) {
	t.Helper()
	var we *jsonrpc.Error
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want a *jsonrpc.Error", err)
	}
	if we.Code != atmcp.CodeDenied && we.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("code = %d, want %d", we.Code, atmcp.CodeDenied)
	}
	var data map[string]any
	if err := json.Unmarshal(we.Data, &data); err != nil || data[atmcp.MetaEffect] != agenttrust.Deny.String() {
		t.Errorf("data = %s, want %s deny", we.Data, atmcp.MetaEffect)
	}
}

// TestAttackSubscriptionOutlivesRevocation: a subscription is checked
// when it is made, but the agent keeps it after its access ends. What
// the server then sends it names the URI without its content; the
// content comes by resources/read, which is checked every time, so the
// revoked agent reads nothing more, and cannot subscribe again.
func TestAttackSubscriptionOutlivesRevocation(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: data
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.resources/read", "mcp.resources/subscribe"]
    resources: ["file:///data/*"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p))
	mw := atmcp.ServerMiddleware(c)
	srv, ran := newMethodServer(mw)
	cs := connect(t, agentCtx, srv, nil)
	ctx := context.Background()
	subscribe := func() error {
		_, err := mw(func(context.Context, string, sdk.Request) (sdk.Result, error) { return nil, nil })(
			agentCtx, "resources/subscribe", &sdk.SubscribeRequest{Params: &sdk.SubscribeParams{URI: "file:///data/secret.txt"}})
		return err
	}
	if err := subscribe(); err != nil {
		t.Fatalf("subscribe before revocation: %v", err)
	}
	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/secret.txt"}); err != nil {
		t.Fatalf("read before revocation: %v", err)
	}
	if err := c.Revoke(ctx, "billing-bot"); err != nil {
		t.Fatal(err)
	}
	before := ran.get("resources/read")
	_, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/secret.txt"})
	assertDenied(t, err)
	assertDenied(t, subscribe())
	if n := ran.get("resources/read") - before; n != 0 {
		t.Errorf("read after revocation ran %d times", n)
	}
}

// TestAttackTokenCaveatsOnResources: over HTTP the bearer token is
// checked on every request, resource reads included: a token narrowed to
// one file reads no other, though the policy allows it, and once the key
// it came from is revoked the open session reads nothing more.
func TestAttackTokenCaveatsOnResources(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: data
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.resources/read"]
    resources: ["file:///data/*"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p), agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource}}))
	srv, ran := newMethodServer(atmcp.ServerMiddleware(c))
	ts := httpServer(t, c, srv)
	apiKey, key := mintKey(t, c, "billing-bot")
	cs, err := connectHTTP(ts, mintJWT(t, c, apiKey, resource, "resource in file:///data/report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ctx := context.Background()

	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/report.txt"}); err != nil {
		t.Fatalf("read the token allows: %v", err)
	}
	if ran.id.AgentID != "billing-bot" {
		t.Errorf("handler context identity = %+v", ran.id)
	}
	_, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/secret.txt"})
	assertDenied(t, err)
	if err := c.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	_, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/report.txt"})
	if err == nil {
		t.Error("read after revocation succeeded")
	}
	if n := ran.get("resources/read"); n != 1 {
		t.Errorf("the server read %d times, want 1", n)
	}
}
