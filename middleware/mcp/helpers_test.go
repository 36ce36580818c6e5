package mcp_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

const testPolicy = `
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
  - id: customer-reports
    effect: allow
    agents: [billing-bot]
    tools: [reports.get]
    resources: ["cust-*"]
  - id: no-deletes
    effect: deny
    tools: ["*.delete"]
    reason: agents never delete customer data
`

// testTools are the tools of every test server: each handler counts its
// calls and answers "ran NAME".
var testTools = []string{"payments.charge", "calendar.read", "reports.get", "customers.delete", "admin.shutdown"}

func parsePolicy(t testing.TB) *agenttrust.Policy {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(testPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newClient(t testing.TB, opts ...agenttrust.Option) *agenttrust.Client {
	t.Helper()
	c, err := agenttrust.New(memory.New(), append([]agenttrust.Option{agenttrust.WithPolicy(parsePolicy(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// calls counts handler runs per tool.
type calls struct {
	mu sync.Mutex
	n  map[string]int
	// last identity and credential a handler saw in its context
	id   agenttrust.Identity
	cred string
}

func (c *calls) get(tool string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[tool]
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	sum := 0
	for _, n := range c.n {
		sum += n
	}
	return sum
}

// newServer builds an MCP server with testTools, guarded by mw if not nil.
func newServer(mw ...sdk.Middleware) (*sdk.Server, *calls) {
	srv := sdk.NewServer(&sdk.Implementation{Name: "test", Version: "v1"}, nil)
	cs := &calls{n: map[string]int{}}
	for _, name := range testTools {
		srv.AddTool(&sdk.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
				cs.mu.Lock()
				cs.n[name]++
				cs.id, _ = agenttrust.IdentityFrom(ctx)
				cs.cred, _ = agenttrust.CredentialFrom(ctx)
				cs.mu.Unlock()
				return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "ran " + name}}}, nil
			})
	}
	srv.AddReceivingMiddleware(mw...)
	return srv, cs
}

// connect joins a client to srv over the SDK's in-memory transport. The
// server session's requests derive from serverCtx.
func connect(t testing.TB, serverCtx context.Context, srv *sdk.Server, client *sdk.Client) *sdk.ClientSession {
	t.Helper()
	st, ct := sdk.NewInMemoryTransports()
	ss, err := srv.Connect(serverCtx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if client == nil {
		client = sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	}
	cs, err := client.Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
	})
	return cs
}

func call(t testing.TB, cs *sdk.ClientSession, tool string, args any) *sdk.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s): %v", tool, err)
	}
	return res
}

func text(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func toolNames(t testing.TB, cs *sdk.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// clock is a settable clock near the real time: the SDK compares token
// expiry with time.Now.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// methodServer is an MCP server that exposes data through every method
// but tools/call: resources (file:///data/secret.txt, and the template
// file:///data/{name}), prompts (summarize, and payments.charge, named
// like a tool), completions and subscriptions. Each handler counts its
// runs in ran under the method's name.
func newMethodServer(mw ...sdk.Middleware) (*sdk.Server, *calls) {
	ran := &calls{n: map[string]int{}}
	count := func(ctx context.Context, method string) {
		ran.mu.Lock()
		defer ran.mu.Unlock()
		ran.n[method]++
		ran.id, _ = agenttrust.IdentityFrom(ctx)
	}
	srv := sdk.NewServer(&sdk.Implementation{Name: "files", Version: "v1"}, &sdk.ServerOptions{
		SubscribeHandler: func(ctx context.Context, _ *sdk.SubscribeRequest) error {
			count(ctx, "resources/subscribe")
			return nil
		},
		UnsubscribeHandler: func(context.Context, *sdk.UnsubscribeRequest) error { return nil },
		CompletionHandler: func(ctx context.Context, _ *sdk.CompleteRequest) (*sdk.CompleteResult, error) {
			count(ctx, "completion/complete")
			return &sdk.CompleteResult{Completion: sdk.CompletionResultDetails{Values: []string{"secret.txt", "salaries.csv"}}}, nil
		},
	})
	read := func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
		count(ctx, "resources/read")
		return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, Text: "the secret"}}}, nil
	}
	srv.AddResource(&sdk.Resource{URI: "file:///data/secret.txt", Name: "secret"}, read)
	srv.AddResourceTemplate(&sdk.ResourceTemplate{URITemplate: "file:///data/{name}", Name: "data"}, read)
	prompt := func(ctx context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
		count(ctx, "prompts/get")
		return &sdk.GetPromptResult{Messages: []*sdk.PromptMessage{{Role: "user", Content: &sdk.TextContent{Text: "the secret prompt"}}}}, nil
	}
	srv.AddPrompt(&sdk.Prompt{Name: "summarize", Arguments: []*sdk.PromptArgument{{Name: "topic"}}}, prompt)
	srv.AddPrompt(&sdk.Prompt{Name: "payments.charge", Arguments: []*sdk.PromptArgument{{Name: "amount"}}}, prompt)
	srv.AddReceivingMiddleware(mw...)
	return srv, ran
}
