package readme_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/middleware/a2a"
	"github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store/memory"
)

// The README's "Every surface, one model" snippet: each surface built
// over one client and exercised once.
func TestSurfaces(t *testing.T) {
	policy, err := agenttrust.ParsePolicy([]byte(`
rules:
  - {id: pay, effect: allow, agents: [billing-bot], tools: [payments.charge], when: ["attr.amount <= 50"]}
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	client, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "s1")
	chargeFn := func(ctx context.Context, in Charge) (Receipt, error) { return pay(in) }

	// A tool function.
	charge := middleware.Guard(client, "payments.charge", chargeFn)
	if _, err := charge(ctx, Charge{Customer: "c", Amount: 60}); !errors.Is(err, agenttrust.ErrDenied) {
		t.Fatalf("guarded charge of 60: %v", err)
	}

	// An internal HTTP API: routes map to tools, bearer tokens are checked.
	routes, _ := middleware.Routes(middleware.Route{Pattern: "POST /v1/payments/{id}", Tool: "payments.charge", Resource: "payment:{id}"})
	mux := http.NewServeMux()
	addr := "no-such-host:-1" // the snippet's ListenAndServe fails at once here
	if err := http.ListenAndServe(addr, middleware.HTTP(client, middleware.Options{Action: routes})(mux)); err == nil {
		t.Fatal("ListenAndServe on a bad address returned nil")
	}
	rec := httptest.NewRecorder()
	middleware.HTTP(client, middleware.Options{Action: routes})(mux).ServeHTTP(rec, httptest.NewRequest("POST", "/v1/payments/p1", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated POST: %d", rec.Code)
	}

	// A hand-written tool loop (openai-go, anthropic-sdk-go): check a model's tool call.
	call := struct{ Name, Arguments string }{"payments.charge", `{"amount": 40}`}
	d, err := middleware.CheckToolCall(ctx, client, call.Name, []byte(call.Arguments))
	if err != nil || !d.Allowed() {
		t.Fatalf("CheckToolCall = %v, %v", d.Effect, err)
	}

	// An MCP server: every tools/call checked before the handler runs.
	server := mcpsdk.NewServer(&mcpsdk.Implementation{Name: "billing", Version: "v1"}, nil)
	server.AddReceivingMiddleware(mcp.ServerMiddleware(client))

	// Agent to agent: each outgoing call carries the caller's token narrowed by a hop.
	hc := &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in research.*")}}
	if hc.Transport == nil {
		t.Fatal("no transport")
	}
}
