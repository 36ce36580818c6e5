package mcp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// remote.Client verifies bearers through a central agenttrust server.
var _ atmcp.Authenticator = (*remote.Client)(nil)

// requireNodeEnv, when set (CI sets it), makes TestTypeScriptSDKClient
// fail rather than skip without node or the SDK's node_modules.
const requireNodeEnv = "AGENTTRUST_TEST_NODE"

const tsPolicy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount <= 50"]
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

// TestTypeScriptSDKClient drives a Go MCP server behind ServerMiddleware
// and TokenVerifier, over streamable HTTP, with the official MCP
// TypeScript SDK (testdata/tsclient, pinned in its package-lock.json):
// discovery from the protected resource metadata to the agenttrust
// server's OAuth metadata, a token by client_credentials, tools/list
// filtered, and an allowed, a denied and a needs-approval call. The MCP
// server verifies bearers and checks calls through the agenttrust server
// (remote.Client).
func TestTypeScriptSDKClient(t *testing.T) {
	dir, err := filepath.Abs("testdata/tsclient")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk", "package.json"))
	}
	if err != nil {
		if os.Getenv(requireNodeEnv) != "" {
			t.Fatalf("%s is set, but node or the SDK is missing (npm ci in %s): %v", requireNodeEnv, dir, err)
		}
		t.Skipf("no node or no SDK (npm ci in %s): %v", dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	atLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + atLn.Addr().String()
	resource := "http://" + mcpLn.Addr().String() + "/mcp"

	// The agenttrust server.
	at, err := server.New(memory.New(), server.WithIssuer(issuer),
		server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource}})))
	if err != nil {
		t.Fatal(err)
	}
	atHTTP := &http.Server{Handler: at, ReadHeaderTimeout: 5 * time.Second}
	go atHTTP.Serve(atLn)
	t.Cleanup(func() {
		atHTTP.Close()
		at.Close()
	})
	tenant, err := at.Client(ctx, agenttrust.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.SavePolicy(ctx, []byte(tsPolicy), "yaml", 0); err != nil {
		t.Fatal(err)
	}
	botKey, _, err := tenant.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Roles: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	gatewayKey, _, err := tenant.CreateKey(ctx, agenttrust.KeySpec{AgentID: "mcp-gateway", Roles: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}

	// The MCP server.
	central, err := remote.New(issuer, gatewayKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { central.Close() })
	p, err := agenttrust.ParsePolicy([]byte(tsPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	filter, err := atmcp.PolicyListFilter(p)
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "billing", Version: "v1"}, nil)
	ran := map[string]int{}
	done := func(tool string) (*mcp.CallToolResult, any, error) {
		ran[tool]++
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: tool + " done"}}}, nil, nil
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "payments.charge"}, func(_ context.Context, _ *mcp.CallToolRequest, in ChargeIn) (*mcp.CallToolResult, any, error) {
		return done("payments.charge")
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "calendar.read"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return done("calendar.read")
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "customers.delete"}, func(context.Context, *mcp.CallToolRequest, ChargeIn) (*mcp.CallToolResult, any, error) {
		return done("customers.delete")
	})
	srv.AddReceivingMiddleware(atmcp.ServerMiddleware(central, atmcp.ResourceArg("customer"), atmcp.WithListFilter(filter)))
	metadataURL, err := atmcp.MetadataURL(resource)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(strings.TrimPrefix(metadataURL, "http://"+mcpLn.Addr().String()), atmcp.ProtectedResourceHandler(resource, issuer))
	mux.Handle("/mcp", auth.RequireBearerToken(atmcp.TokenVerifier(central, resource), &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: metadataURL,
	})(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)))
	mcpHTTP := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go mcpHTTP.Serve(mcpLn)
	t.Cleanup(func() { mcpHTTP.Close() })

	// The TypeScript client.
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MCP_URL="+resource, "CLIENT_ID=billing-bot", "CLIENT_SECRET="+botKey)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	type line struct {
		Step                string   `json:"step"`
		AuthorizationServer string   `json:"authorization_server"`
		Issuer              string   `json:"issuer"`
		TokenEndpoint       string   `json:"token_endpoint"`
		GrantTypes          []string `json:"grant_types"`
		Resource            string   `json:"resource"`
		TokenType           string   `json:"token_type"`
		Scope               string   `json:"scope"`
		HasToken            bool     `json:"has_token"`
		Tools               []string `json:"tools"`
		Tool                string   `json:"tool"`
		IsError             bool     `json:"is_error"`
		Effect              string   `json:"effect"`
		ApprovalID          string   `json:"approval_id"`
		Text                string   `json:"text"`
	}
	var lines []line
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		lines = append(lines, l)
	}
	steps := make([]string, len(lines))
	for i, l := range lines {
		steps[i] = l.Step
	}
	want := []string{"discovery", "token", "tools/list", "tools/call", "tools/call", "tools/call", "done"}
	if !slices.Equal(steps, want) {
		t.Fatalf("steps %v, want %v\nstderr:\n%s", steps, want, stderr.String())
	}
	d := lines[0]
	if strings.TrimSuffix(d.AuthorizationServer, "/") != issuer || d.Issuer != issuer || d.TokenEndpoint != issuer+"/oauth/token" ||
		!slices.Contains(d.GrantTypes, "client_credentials") || d.Resource != resource {
		t.Errorf("discovery %+v", d)
	}
	if tk := lines[1]; !tk.HasToken || !strings.EqualFold(tk.TokenType, "bearer") || tk.Scope != "agent" {
		t.Errorf("token %+v", tk)
	}
	if got := lines[2].Tools; !slices.Equal(got, []string{"calendar.read", "payments.charge"}) {
		t.Errorf("tools/list %v", got)
	}
	if c := lines[3]; c.Tool != "payments.charge" || c.IsError || c.Text != "payments.charge done" {
		t.Errorf("allowed call %+v", c)
	}
	if c := lines[4]; c.Tool != "customers.delete" || !c.IsError || c.Effect != "deny" || !strings.Contains(c.Text, "agents never delete customer data") {
		t.Errorf("denied call %+v", c)
	}
	c := lines[5]
	if c.Tool != "payments.charge" || !c.IsError || c.Effect != "needs_approval" || c.ApprovalID == "" {
		t.Fatalf("needs-approval call %+v", c)
	}
	// The tools ran only when allowed, and the approval waits on the
	// agenttrust server, for the agent the token names.
	if ran["payments.charge"] != 1 || ran["customers.delete"] != 0 {
		t.Errorf("tools ran %v", ran)
	}
	a, err := tenant.Approval(ctx, c.ApprovalID)
	if err != nil || a.AgentID != "billing-bot" || a.Tool != "payments.charge" || a.Status != agenttrust.ApprovalPending {
		t.Errorf("approval %+v, %v", a, err)
	}
	if t.Failed() {
		t.Logf("stdout lines: %+v\nstderr:\n%s", lines, stderr.String())
	}
}
