package surfaces_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/middleware/a2a"
	"github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
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
  - id: reports
    effect: allow
    agents: [billing-bot]
    tools: [reports.get]
  - id: no-deletes
    effect: deny
    tools: ["*.delete"]
`

type action struct {
	tool   string
	amount float64
	want   agenttrust.Effect
}

var actions = []action{
	{"payments.charge", 40, agenttrust.Allow},
	{"payments.charge", 50, agenttrust.Allow},
	{"payments.charge", 60, agenttrust.NeedsApproval},
	{"customers.delete", 1, agenttrust.Deny},
	{"reports.get", 1, agenttrust.Allow},
	{"admin.shutdown", 1, agenttrust.Deny},
}

// outcome is what a surface reports for one action.
func outcome(err error) agenttrust.Effect {
	switch {
	case err == nil:
		return agenttrust.Allow
	case errors.Is(err, middleware.ErrApprovalRequired):
		return agenttrust.NeedsApproval
	}
	return agenttrust.Deny
}

func TestSameDecisionOnEverySurface(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	agentCtx := agenttrust.WithAgent(ctx, "billing-bot", "s1")

	// The HTTP surface: a route per tool, the amount in the JSON body.
	var routes []middleware.Route
	for _, tool := range []string{"payments.charge", "customers.delete", "reports.get", "admin.shutdown"} {
		routes = append(routes, middleware.Route{Pattern: "POST /" + tool, Tool: tool, Resource: "r"})
	}
	mapper, err := middleware.Routes(routes...)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	api := middleware.HTTP(c, middleware.Options{Action: mapper, Attributes: middleware.JSONBodyAttributes(1 << 10)})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran++ }))
	srv := httptest.NewServer(api)
	defer srv.Close()

	// The MCP surface.
	mcpServer := sdk.NewServer(&sdk.Implementation{Name: "tools", Version: "v1"}, nil)
	for _, a := range actions {
		mcpServer.AddTool(&sdk.Tool{Name: a.tool, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
				return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "ok"}}}, nil
			})
	}
	mcpServer.AddReceivingMiddleware(mcp.ServerMiddleware(c))
	st, ct := sdk.NewInMemoryTransports()
	ss, err := mcpServer.Connect(agentCtx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	type args struct {
		Amount float64 `json:"amount" agenttrust:"attr,amount"`
	}
	surfaces := map[string]func(a action) agenttrust.Effect{
		"Guard": func(a action) agenttrust.Effect {
			g := middleware.Guard(c, a.tool, func(context.Context, args) (string, error) { return "ok", nil },
				middleware.Resource(func(args) string { return "r" }))
			_, err := g(agentCtx, args{a.amount})
			return outcome(err)
		},
		"HTTP": func(a action) agenttrust.Effect {
			body, _ := json.Marshal(map[string]any{"amount": a.amount})
			req, _ := http.NewRequest("POST", srv.URL+"/"+a.tool, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var eb middleware.ErrorBody
			json.NewDecoder(res.Body).Decode(&eb)
			switch {
			case res.StatusCode == http.StatusOK:
				return agenttrust.Allow
			case eb.Error.ApprovalID != "":
				return agenttrust.NeedsApproval
			}
			return agenttrust.Deny
		},
		"MCP": func(a action) agenttrust.Effect {
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: a.tool, Arguments: map[string]any{"amount": a.amount}})
			if err != nil {
				t.Fatal(err)
			}
			if !res.IsError {
				return agenttrust.Allow
			}
			var txt strings.Builder
			for _, c := range res.Content {
				if tc, ok := c.(*sdk.TextContent); ok {
					txt.WriteString(tc.Text)
				}
			}
			if strings.Contains(txt.String(), "apr_") {
				return agenttrust.NeedsApproval
			}
			return agenttrust.Deny
		},
		"a2a": func(a action) agenttrust.Effect {
			// A planner hands the call to this agent through a2a.Transport:
			// the token arrives narrowed by a hop, and the HTTP surface
			// decides as before.
			hc := &http.Client{Transport: &a2a.Transport{}}
			body, _ := json.Marshal(map[string]any{"amount": a.amount})
			req, _ := http.NewRequestWithContext(agenttrust.WithCredential(ctx, token), "POST", srv.URL+"/"+a.tool, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var eb middleware.ErrorBody
			json.NewDecoder(res.Body).Decode(&eb)
			switch {
			case res.StatusCode == http.StatusOK:
				return agenttrust.Allow
			case eb.Error.ApprovalID != "":
				return agenttrust.NeedsApproval
			}
			return agenttrust.Deny
		},
	}
	for _, a := range actions {
		for name, surface := range surfaces {
			t.Run(fmt.Sprintf("%s/%s/%v", name, a.tool, a.amount), func(t *testing.T) {
				if got := surface(a); got != a.want {
					t.Errorf("%s gives %v, want %v", name, got, a.want)
				}
			})
		}
	}
}

// TestRootAndMiddlewareImportNoFramework lists the imports of the root
// package and of middleware: the standard library, the module's own light
// packages and the credential libraries only; heavy SDKs live in their
// own subpackages.
func TestRootAndMiddlewareImportNoFramework(t *testing.T) {
	allowed := func(path string) bool {
		if !strings.Contains(strings.Split(path, "/")[0], ".") {
			return true // standard library
		}
		for _, ok := range []string{
			"github.com/agenttrust/agenttrust/store", "github.com/agenttrust/agenttrust/internal/",
			"github.com/agenttrust/agenttrust", "github.com/golang-jwt/jwt/v5",
			"go.yaml.in/yaml/v3", "golang.org/x/time/rate", "golang.org/x/text/unicode/norm",
			"github.com/go-json-experiment/json/jsontext",
		} {
			if path == ok || strings.HasPrefix(path, ok+"/") || strings.HasPrefix(path, ok) && strings.HasSuffix(ok, "/") {
				return true
			}
		}
		return false
	}
	for _, dir := range []string{"../..", "../../middleware"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s imports %v", pkg.ImportPath, pkg.Imports)
		for _, imp := range pkg.Imports {
			if !allowed(imp) {
				t.Errorf("%s imports %s", pkg.ImportPath, imp)
			}
		}
	}
}
