package remote_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// An agent process checks each action with the server, and is denied,
// never allowed, once the server is gone.
func Example() {
	ctx := context.Background()

	// The server, with a tenant whose policy allows reading, holds payments
	// for a human and forbids deleting; and the agent's API key.
	srv, err := server.New(memory.New(), server.WithNodeName("example"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	acme, err := srv.Client(ctx, "acme")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := acme.SavePolicy(ctx, []byte(acmePolicy), "json", 0); err != nil {
		log.Fatal(err)
	}
	agentKey, _, err := acme.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		log.Fatal(err)
	}

	// The agent's process.
	c, err := remote.New(ts.URL, agentKey, remote.WithTimeout(2*time.Second), remote.WithRetries(2))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, tool := range []string{"docs.read", "payments.charge", "docs.delete"} {
		d, err := c.Check(ctx, agenttrust.Request{Tool: tool, Resource: "cust-42"})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tool, d.Effect, d.Rule)
	}

	ts.Close()
	d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Resource: "cust-42"})
	fmt.Println("server gone:", d.Effect, d.Reason, errors.Is(err, agenttrust.ErrStoreUnavailable))
	// Output:
	// docs.read allow read
	// payments.charge needs_approval pay
	// docs.delete deny no-delete
	// server gone: deny authorization server unreachable true
}
