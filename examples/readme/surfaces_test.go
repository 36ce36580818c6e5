package readme_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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
	if _, err := charge(ctx, Charge{Customer: "c", Amount: 60}); !errors.Is(err, middleware.ErrDenied) {
		t.Fatalf("guarded charge of 60: %v", err)
	}

	// An internal HTTP API: routes map to tools, bearer tokens are checked,
	// the JSON body (Content-Type: application/json) gives the attributes.
	routes, _ := middleware.Routes(middleware.Route{Pattern: "POST /v1/payments/{id}", Tool: "payments.charge", Resource: "payment:{id}"})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/payments/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	addr := "no-such-host:-1" // the snippet's ListenAndServe fails at once here
	if err := http.ListenAndServe(addr, middleware.HTTP(client, middleware.Options{Action: routes, Attributes: middleware.JSONBodyAttributes(1 << 20)})(mux)); err == nil {
		t.Fatal("ListenAndServe on a bad address returned nil")
	}
	api := middleware.HTTP(client, middleware.Options{Action: routes, Attributes: middleware.JSONBodyAttributes(1 << 20)})(mux)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/payments/p1", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated POST: %d", rec.Code)
	}
	// A token capped by attr.amount is let through for an amount within
	// the cap, and only then: the body's attributes reach the check.
	secret, _, err := client.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := client.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	capped, err := agenttrust.Attenuate(tok, "attr.amount <= 50")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body string
		want int
	}{{`{"amount": 40}`, http.StatusNoContent}, {`{"amount": 45}`, http.StatusNoContent}, {`{"amount": 60}`, http.StatusForbidden}} {
		req := httptest.NewRequest("POST", "/v1/payments/p1", strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+capped)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("POST %s with a capped token: %d, want %d: %s", tc.body, rec.Code, tc.want, rec.Body)
		}
	}

	// A hand-written tool loop (openai-go, anthropic-sdk-go): check a model's tool call.
	call := struct{ Name, Arguments string }{"payments.charge", `{"amount": 40}`}
	d, err := middleware.CheckToolCall(ctx, client, call.Name, []byte(call.Arguments))
	if err != nil || !d.Allowed() {
		t.Fatalf("CheckToolCall = %v, %v", d.Effect, err)
	}

	// An MCP server: every tools/call checked before the handler runs.
	server := mcpsdk.NewServer(&mcpsdk.Implementation{Name: "billing", Version: "v1"}, nil)
	ran := 0
	mcpsdk.AddTool(server, &mcpsdk.Tool{Name: "payments.charge"}, func(context.Context, *mcpsdk.CallToolRequest, map[string]any) (*mcpsdk.CallToolResult, any, error) {
		ran++
		return &mcpsdk.CallToolResult{}, nil, nil
	})
	server.AddReceivingMiddleware(mcp.ServerMiddleware(client))
	st, ct := mcpsdk.NewInMemoryTransports()
	ss, err := server.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	session, err := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "agent", Version: "v1"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, amount := range []float64{40, 60} {
		res, err := session.CallTool(context.Background(), &mcpsdk.CallToolParams{Name: "payments.charge", Arguments: map[string]any{"amount": amount}})
		if denied := err != nil || res.IsError; denied != (amount > 50) {
			t.Errorf("MCP charge of %v: %+v, %v", amount, res, err)
		}
	}
	session.Close()
	ss.Wait()
	if ran != 1 {
		t.Errorf("the MCP tool ran %d times, want once (the allowed charge)", ran)
	}

	// Agent to agent: each outgoing call carries the caller's token narrowed by a hop.
	hc := &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in research.*")}}
	secret, _, err = client.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := client.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	var sent string
	callee := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sent = r.Header.Get("Authorization") }))
	defer callee.Close()
	req, _ := http.NewRequestWithContext(agenttrust.WithCredential(ctx, token), "GET", callee.URL, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	narrowed, ok := strings.CutPrefix(sent, "Bearer ")
	if !ok || narrowed == token {
		t.Fatalf("the callee got %q, want a narrowed token", sent)
	}
	// The caller's token may charge; the narrowed one may not.
	charge40 := agenttrust.Request{Tool: "payments.charge", Attributes: map[string]any{"amount": 40}}
	charge40.Credential = token
	if d, err := client.Check(ctx, charge40); err != nil || !d.Allowed() {
		t.Fatalf("the caller's token: %v, %v", d.Effect, err)
	}
	charge40.Credential = narrowed
	if d, err := client.Check(ctx, charge40); d.Allowed() || !errors.Is(err, agenttrust.ErrCaveat) {
		t.Fatalf("the narrowed token: %v, %v; want a deny by its caveat", d.Effect, err)
	}
}
