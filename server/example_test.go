package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// A server over a memory store: the operator bootstraps a tenant in
// process, and an agent asks over HTTP whether it may act.
func Example() {
	ctx := context.Background()
	srv, err := server.New(memory.New(), server.WithNodeName("node-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// Bootstrap: the tenant's policy and an agent's key.
	acme, err := srv.Client(ctx, "acme")
	if err != nil {
		log.Fatal(err)
	}
	policy := `{"rules":[{"id":"read-docs","effect":"allow","tools":["docs.read"]}]}`
	if _, err := acme.SavePolicy(ctx, []byte(policy), "json", 0); err != nil {
		log.Fatal(err)
	}
	apiKey, _, err := acme.CreateKey(ctx, agenttrust.KeySpec{AgentID: "reader"})
	if err != nil {
		log.Fatal(err)
	}

	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, tool := range []string{"docs.read", "docs.delete"} {
		body := `{"tool_name":"` + tool + `","resource":"doc-1"}`
		req, _ := http.NewRequest("POST", ts.URL+"/v1/actions/check", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		var d struct {
			Allowed bool   `json:"allowed"`
			Effect  string `json:"effect"`
			Reason  string `json:"reason"`
			RuleID  string `json:"rule_id"`
			AgentID string `json:"agent_id"`
		}
		json.NewDecoder(res.Body).Decode(&d)
		res.Body.Close()
		fmt.Printf("%d %s: allowed=%v effect=%s rule=%q reason=%q agent=%s\n", res.StatusCode, tool, d.Allowed, d.Effect, d.RuleID, d.Reason, d.AgentID)
	}
	// Output:
	// 200 docs.read: allowed=true effect=allow rule="read-docs" reason="allowed by policy" agent=reader
	// 200 docs.delete: allowed=false effect=deny rule="" reason="no rule allows this action" agent=reader
}
