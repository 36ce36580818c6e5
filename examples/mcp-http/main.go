// MCP over streamable HTTP, with agenttrust as the authorization server:
// an agenttrust server (package server) and an MCP server whose tools it
// guards, each on its own loopback port, and an MCP client that finds its
// way in as any OAuth client would.
//
//  1. The client asks the MCP server, is refused (401), and reads the
//     protected resource metadata (RFC 9728) the refusal points to; it
//     names the agenttrust server as authorization server.
//  2. It reads that server's metadata (RFC 8414) and asks its token
//     endpoint for a token with the client credentials grant (its agent
//     id and API key), for the MCP server's URI (RFC 8707 "resource").
//  3. With that JWT as bearer it lists the tools (filtered for its agent)
//     and calls them: one allowed, one denied, one held for a person's
//     approval and then let through.
//
// The MCP server holds no policy and no keys of its own: it verifies
// bearers and checks every call through the agenttrust server
// (remote.Client as Authenticator and Checker). It runs to completion by
// itself and exits 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/server"
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

// Charge is the input of payments.charge.
type Charge struct {
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
}

// Customer is the input of customers.delete.
type Customer struct {
	Customer string `json:"customer"`
}

// Empty is the input of tools that take none.
type Empty struct{}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// Both servers listen first, so each knows its own URL.
	atLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	issuer := "http://" + atLn.Addr().String()
	resource := "http://" + mcpLn.Addr().String() + "/mcp"

	// The agenttrust server: its URL is the JWT issuer, and it accepts
	// JWTs issued for the MCP server.
	at, err := server.New(memory.New(), server.WithIssuer(issuer),
		server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource}})))
	if err != nil {
		return err
	}
	defer at.Close()
	atHTTP := &http.Server{Handler: at, ReadHeaderTimeout: 5 * time.Second}
	go atHTTP.Serve(atLn)
	defer atHTTP.Close()

	tenant, err := at.Client(ctx, agenttrust.DefaultTenant)
	if err != nil {
		return err
	}
	if _, err := tenant.SavePolicy(ctx, []byte(policy), "yaml", 0); err != nil {
		return err
	}
	botKey, _, err := tenant.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Roles: []string{"agent"}})
	if err != nil {
		return err
	}
	gatewayKey, _, err := tenant.CreateKey(ctx, agenttrust.KeySpec{AgentID: "mcp-gateway", Roles: []string{"agent"}})
	if err != nil {
		return err
	}

	// The MCP server, which asks the agenttrust server about everything.
	central, err := remote.New(issuer, gatewayKey)
	if err != nil {
		return err
	}
	defer central.Close()
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		return err
	}
	filter, err := atmcp.PolicyListFilter(p)
	if err != nil {
		return err
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "billing", Version: "v1"}, nil)
	text := func(s string) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}, nil, nil
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "payments.charge", Description: "Charge a customer"},
		func(_ context.Context, _ *mcp.CallToolRequest, in Charge) (*mcp.CallToolResult, any, error) {
			return text(fmt.Sprintf("charged %s $%.2f", in.Customer, in.Amount))
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "calendar.read", Description: "Read the calendar"},
		func(context.Context, *mcp.CallToolRequest, Empty) (*mcp.CallToolResult, any, error) {
			return text("no meetings today")
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "customers.delete", Description: "Delete a customer"},
		func(context.Context, *mcp.CallToolRequest, Customer) (*mcp.CallToolResult, any, error) {
			return nil, nil, errors.New("never runs: the policy denies it")
		})
	srv.AddReceivingMiddleware(atmcp.ServerMiddleware(central, atmcp.ResourceArg("customer"), atmcp.WithListFilter(filter)))

	metadataURL, err := atmcp.MetadataURL(resource)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(strings.TrimPrefix(metadataURL, "http://"+mcpLn.Addr().String()), atmcp.ProtectedResourceHandler(resource, issuer))
	mux.Handle("/mcp", auth.RequireBearerToken(atmcp.TokenVerifier(central, resource), &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: metadataURL,
	})(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)))
	mcpHTTP := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go mcpHTTP.Serve(mcpLn)
	defer mcpHTTP.Close()

	// The client: discovery, then a token, then MCP.
	token, err := discoverAndAuthorize(ctx, resource, "billing-bot", botKey)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}}
	client := mcp.NewClient(&mcp.Implementation{Name: "billing-agent", Version: "v1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, HTTPClient: hc, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return err
	}
	defer session.Close()

	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tools.Tools {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	fmt.Printf("tools/list (3 tools on the server): %v\n", names)

	call := func(what, tool string, args any) (*mcp.CallToolResult, error) {
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			return nil, err
		}
		verdict := "ALLOWED"
		switch {
		case res.IsError && res.Meta[atmcp.MetaEffect] == "needs_approval":
			verdict = "HELD"
		case res.IsError:
			verdict = "DENIED"
		}
		fmt.Printf("%-28s %-8s %s\n", what, verdict, res.Content[0].(*mcp.TextContent).Text)
		return res, nil
	}
	if _, err := call("charge cust-42 $40", "payments.charge", Charge{"cust-42", 40}); err != nil {
		return err
	}
	if _, err := call("delete cust-42", "customers.delete", Customer{"cust-42"}); err != nil {
		return err
	}
	res, err := call("charge cust-42 $120", "payments.charge", Charge{"cust-42", 120})
	if err != nil {
		return err
	}
	id, _ := res.Meta[atmcp.MetaApprovalID].(string)
	if id == "" {
		return errors.New("the big charge was not held for approval")
	}
	if err := tenant.Approve(ctx, id, "alice@example.com", "confirmed by phone"); err != nil {
		return err
	}
	fmt.Printf("%-28s approval granted by alice@example.com\n", "")
	if _, err := call("charge cust-42 $120 (retry)", "payments.charge", Charge{"cust-42", 120}); err != nil {
		return err
	}
	return nil
}

// discoverAndAuthorize finds the authorization server of resource as an
// OAuth client does (RFC 9728, then RFC 8414) and asks its token endpoint
// for a token for resource with the client credentials grant.
func discoverAndAuthorize(ctx context.Context, resource, clientID, secret string) (string, error) {
	// An unauthenticated request is refused with a pointer to the metadata.
	res, err := get(ctx, resource)
	if err != nil {
		return "", err
	}
	challenge := res.Header.Get("WWW-Authenticate")
	_, rest, ok := strings.Cut(challenge, `resource_metadata="`)
	if res.StatusCode != http.StatusUnauthorized || !ok {
		return "", fmt.Errorf("MCP server: %s, challenge %q", res.Status, challenge)
	}
	metadataURL, _, _ := strings.Cut(rest, `"`)
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := getJSON(ctx, metadataURL, &prm); err != nil {
		return "", err
	}
	if prm.Resource != resource || len(prm.AuthorizationServers) == 0 {
		return "", fmt.Errorf("protected resource metadata: %+v", prm)
	}
	var asm struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		GrantTypes    []string `json:"grant_types_supported"`
	}
	if err := getJSON(ctx, prm.AuthorizationServers[0]+"/.well-known/oauth-authorization-server", &asm); err != nil {
		return "", err
	}
	if asm.Issuer != prm.AuthorizationServers[0] || !slices.Contains(asm.GrantTypes, "client_credentials") {
		return "", fmt.Errorf("authorization server metadata: %+v", asm)
	}
	fmt.Printf("discovered: resource %s\n  authorization server %s, token endpoint %s\n", prm.Resource, asm.Issuer, asm.TokenEndpoint)

	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, asm.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	tres, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer tres.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(tres.Body, 1<<20)).Decode(&tok); err != nil {
		return "", err
	}
	if tres.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %s %s", tres.Status, tok.Error)
	}
	fmt.Printf("token: a %s JWT for %s, scope %q, expires in %ds\n\n", tok.TokenType, resource, tok.Scope, tok.ExpiresIn)
	return tok.AccessToken, nil
}

func get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	return res, nil
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, res.Status)
	}
	return json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v)
}

// bearer adds the access token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
