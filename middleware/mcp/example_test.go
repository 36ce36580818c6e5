package mcp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store/memory"
)

type ChargeIn struct {
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
}

func ExampleServerMiddleware() {
	policy, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount <= 50"]
  - id: no-deletes
    effect: deny
    tools: ["*.delete"]
    reason: agents never delete customer data
`), "yaml")
	if err != nil {
		log.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	filter, err := atmcp.PolicyListFilter(policy)
	if err != nil {
		log.Fatal(err)
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "billing", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "payments.charge"}, func(_ context.Context, _ *mcp.CallToolRequest, in ChargeIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("charged %s $%.0f", in.Customer, in.Amount)}}}, nil, nil
	})
	mcp.AddTool(server, &mcp.Tool{Name: "customers.delete"}, func(_ context.Context, _ *mcp.CallToolRequest, in ChargeIn) (*mcp.CallToolResult, any, error) {
		panic("never runs")
	})
	server.AddReceivingMiddleware(atmcp.ServerMiddleware(c, atmcp.ResourceArg("customer"), atmcp.WithListFilter(filter)))

	// Over stdio or in memory, the agent a server serves rides on the
	// context given to Connect; over HTTP it comes from the bearer token.
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.Connect(agenttrust.WithAgent(ctx, "billing-bot", ""), st, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ss.Wait()
	session, err := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()

	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tools.Tools {
		fmt.Println("listed:", t.Name)
	}
	for _, name := range []string{"payments.charge", "customers.delete"} {
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: ChargeIn{Customer: "cust-42", Amount: 40}})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: error=%v %s\n", name, res.IsError, res.Content[0].(*mcp.TextContent).Text)
	}
	// Output:
	// listed: payments.charge
	// payments.charge: error=false charged cust-42 $40
	// customers.delete: error=true Not done: permission denied (agents never delete customer data). Do not retry it; choose another way or ask the user.
}

// Resources, prompts and completions are checked as tool calls are,
// as the Tool "mcp." and the method; a resource's Resource is its URI.
func ExampleServerMiddleware_resources() {
	policy, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: handbook
    effect: allow
    agents: [support-bot]
    tools: ["mcp.resources/read"]
    resources: ["file:///docs/**"]
`), "yaml")
	if err != nil {
		log.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	server := mcp.NewServer(&mcp.Implementation{Name: "files", Version: "v1"}, nil)
	read := func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "contents of " + req.Params.URI}}}, nil
	}
	server.AddResource(&mcp.Resource{URI: "file:///docs/handbook.md", Name: "handbook"}, read)
	server.AddResource(&mcp.Resource{URI: "file:///hr/salaries.csv", Name: "salaries"}, read)
	server.AddReceivingMiddleware(atmcp.ServerMiddleware(c))

	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.Connect(agenttrust.WithAgent(ctx, "support-bot", ""), st, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ss.Wait()
	session, err := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()

	for _, uri := range []string{"file:///docs/handbook.md", "file:///hr/salaries.csv", "FILE:///hr/salaries.csv"} {
		res, err := session.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
		var rpcErr *jsonrpc.Error
		switch {
		case errors.As(err, &rpcErr):
			fmt.Printf("%s: refused (%d)\n", uri, rpcErr.Code)
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%s: %s\n", uri, res.Contents[0].Text)
		}
	}
	// Output:
	// file:///docs/handbook.md: contents of file:///docs/handbook.md
	// file:///hr/salaries.csv: refused (-32050)
	// FILE:///hr/salaries.csv: refused (-32602)
}

func ExampleTokenVerifier() {
	const resource = "https://mcp.example.com/mcp"
	// The client accepts JWTs for this server only.
	c, err := agenttrust.New(memory.New(), agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource}}))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	server := mcp.NewServer(&mcp.Implementation{Name: "billing", Version: "v1"}, nil)
	server.AddReceivingMiddleware(atmcp.ServerMiddleware(c))

	metadataURL, err := atmcp.MetadataURL(resource)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource/mcp", atmcp.ProtectedResourceHandler(resource, "https://agenttrust.example.com"))
	mux.Handle("/mcp", auth.RequireBearerToken(atmcp.TokenVerifier(c, resource), &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: metadataURL,
	})(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	fmt.Println(metadataURL)
	// Output:
	// https://mcp.example.com/.well-known/oauth-protected-resource/mcp
}
