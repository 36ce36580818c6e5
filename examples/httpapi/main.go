// HTTP API: an internal payments API behind the agenttrust HTTP
// middleware, served on a loopback listener and called by an agent in the
// same program. One call is allowed, one denied, one held for a person's
// approval (then approved and retried), and one carries a bad token. Every
// decision lands in the audit trail, printed at the end.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    resources: ["customer:*"]
    when: ["attr.amount <= 50"]
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    reason: charges over $50 need a human
  - id: no-refunds
    effect: deny
    tools: [payments.refund]
    reason: agents never issue refunds
`

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		return err
	}
	trail := audit.NewMemorySink(100)
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{trail}}))
	if err != nil {
		return err
	}
	defer c.Close()

	// The API: two routes, each mapped to the tool it performs.
	action, err := middleware.Routes(
		middleware.Route{Pattern: "POST /v1/customers/{id}/charges", Tool: "payments.charge", Resource: "customer:{id}"},
		middleware.Route{Pattern: "POST /v1/customers/{id}/refunds", Tool: "payments.refund", Resource: "customer:{id}"},
	)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/customers/{id}/charges", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Amount float64 }
		json.NewDecoder(r.Body).Decode(&in)
		who, _ := agenttrust.IdentityFrom(r.Context())
		fmt.Fprintf(w, "%s charged %s $%.2f", who.AgentID, r.PathValue("id"), in.Amount)
	})
	mux.HandleFunc("POST /v1/customers/{id}/refunds", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "refunded %s", r.PathValue("id")) // never reached
	})
	api := httptest.NewServer(middleware.HTTP(c, middleware.Options{
		Action:     action,
		Attributes: middleware.JSONBodyAttributes(64 << 10), // {"amount": 40} -> attr.amount
		// Agents connect directly, so the client address is the peer's:
		// no TrustedProxies.
	})(mux))
	defer api.Close()

	// The agent: its key stays with its operator; it calls with a token.
	key, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Name: "billing"})
	if err != nil {
		return err
	}
	token, err := c.Exchange(ctx, key)
	if err != nil {
		return err
	}

	call := func(what, tok, path, body string) (middleware.ErrorDetail, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", api.URL+path, bytes.NewBufferString(body))
		if err != nil {
			return middleware.ErrorDetail{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return middleware.ErrorDetail{}, err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		fmt.Printf("%-26s %d  ", what, resp.StatusCode)
		if resp.StatusCode == http.StatusOK {
			fmt.Println(string(raw))
			return middleware.ErrorDetail{}, nil
		}
		var e middleware.ErrorBody
		if err := json.Unmarshal(raw, &e); err != nil {
			return middleware.ErrorDetail{}, err
		}
		fmt.Printf("%s: %s\n", e.Error.Code, e.Error.Message)
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			fmt.Printf("%-26s      WWW-Authenticate: %s\n", "", h)
		}
		return e.Error, nil
	}

	if _, err := call("charge $40", token, "/v1/customers/cust-42/charges", `{"amount": 40}`); err != nil {
		return err
	}
	if _, err := call("refund $40", token, "/v1/customers/cust-42/refunds", `{"amount": 40}`); err != nil {
		return err
	}
	held, err := call("charge $500", token, "/v1/customers/cust-42/charges", `{"amount": 500}`)
	if err != nil {
		return err
	}
	fmt.Printf("%-26s      approval %s is pending\n", "", held.ApprovalID)
	if err := c.Approve(ctx, held.ApprovalID, "alice@example.com", "customer asked for it"); err != nil {
		return err
	}
	fmt.Printf("%-26s      alice approves it\n", "")
	if _, err := call("charge $500 again", token, "/v1/customers/cust-42/charges", `{"amount": 500}`); err != nil {
		return err
	}
	if _, err := call("charge $40, bad token", "att_not-a-real-token", "/v1/customers/cust-42/charges", `{"amount": 40}`); err != nil {
		return err
	}

	if err := c.SyncAudit(ctx); err != nil {
		return err
	}
	fmt.Println("\naudit trail:")
	recs := trail.Records()
	for _, r := range recs {
		fmt.Printf("  %-15s %-16s %-17s %-12s %s\n", r.Effect, r.Tool, r.Resource, r.AgentID, r.Reason)
	}
	if err := c.VerifyChain(recs); err != nil {
		return err
	}
	fmt.Printf("  %d records, hash chain verified\n", len(recs))
	return nil
}
