package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

// An internal payments API behind a load balancer. Which address a
// request comes from matters (the agent's key only works from the office
// network), and the choice of whom to believe about it is explicit: the
// X-Forwarded-For header counts only when the connection comes from the
// load balancers' own network.
func ExampleHTTP() {
	policy, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    resources: ["payment:cust-*"]
    when: ["attr.amount <= 50"]
`), "yaml")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer c.Close()
	key, _, _ := c.CreateKey(context.Background(), agenttrust.KeySpec{
		AgentID: "billing-bot", AllowedIPs: []string{"203.0.113.0/24"}, // the office
	})

	action, err := middleware.Routes(middleware.Route{
		Pattern: "POST /v1/payments/{customer}", Tool: "payments.charge", Resource: "payment:{customer}",
	})
	if err != nil {
		panic(err)
	}
	protect := middleware.HTTP(c, middleware.Options{
		Action:     action,
		Attributes: middleware.JSONBodyAttributes(1 << 20),
		// Leave TrustedProxies empty when clients connect directly: then
		// only r.RemoteAddr counts and X-Forwarded-For is ignored.
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/payments/{customer}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := agenttrust.IdentityFrom(r.Context())
		fmt.Fprintf(w, "%s charged %s", id.AgentID, r.PathValue("customer"))
	})
	h := protect(mux)

	call := func(peer, forwardedFor string) {
		r := httptest.NewRequest("POST", "/v1/payments/cust-42", strings.NewReader(`{"amount": 40}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", forwardedFor)
		r.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			fmt.Println(rec.Code, rec.Body)
			return
		}
		var body middleware.ErrorBody
		json.Unmarshal(rec.Body.Bytes(), &body)
		fmt.Println(rec.Code, body.Error.Code, body.Error.Message)
	}
	// From the office, through the load balancer.
	call("10.0.0.7:41000", "203.0.113.9")
	// Straight to the service, claiming to be in the office: the peer is
	// no trusted proxy, so the header is ignored.
	call("198.51.100.4:41000", "203.0.113.9")
	// Through the load balancer with a forged entry in front: the right-most
	// hop that is not a trusted proxy is the client.
	call("10.0.0.7:41000", "203.0.113.9, 198.51.100.4")
	// Output:
	// 200 billing-bot charged cust-42
	// 403 denied agenttrust: unauthorized: address not allowed
	// 403 denied agenttrust: unauthorized: address not allowed
}

func ExampleRoutes() {
	action, err := middleware.Routes(
		middleware.Route{Pattern: "POST /v1/payments/{id}", Tool: "payments.charge", Resource: "payment:{id}"},
		middleware.Route{Pattern: "GET /v1/payments/{id}", Tool: "payments.read"}, // resource: the path
	)
	if err != nil {
		panic(err)
	}
	for _, target := range []string{"POST /v1/payments/p-1", "GET /v1/payments/p-1", "DELETE /v1/payments/p-1"} {
		method, path, _ := strings.Cut(target, " ")
		tool, resource, ok := action(httptest.NewRequest(method, path, nil))
		fmt.Printf("%-24s -> %q %q %v\n", target, tool, resource, ok)
	}
	// Output:
	// POST /v1/payments/p-1    -> "payments.charge" "payment:p-1" true
	// GET /v1/payments/p-1     -> "payments.read" "/v1/payments/p-1" true
	// DELETE /v1/payments/p-1  -> "" "" false
}
