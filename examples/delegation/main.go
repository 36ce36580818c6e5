// Delegation: a planner agent exchanges its API key for a short-lived
// token, narrows it to "payments under $50 for the next 2 minutes" and
// hands it to a worker. The worker's $40 charge is allowed, $60 denied; a
// copy the worker tries to widen is rejected; revoking the planner's key
// stops the worker at once.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: planner-payments
    effect: allow
    agents: [planner]
    tools: ["payments.*"]
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
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		return err
	}
	defer c.Close()

	// The planner's long-lived key stays with the planner's backend.
	secret, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner", Name: "planner"})
	if err != nil {
		return err
	}
	fmt.Printf("planner key      %s (secret shown once, stored as SHA-256)\n", key.ID)

	token, err := c.Exchange(ctx, secret)
	if err != nil {
		return err
	}
	expires := time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339)
	worker, err := agenttrust.Attenuate(token, "tool in payments.charge", "attr.amount <= 50", "expires < "+expires)
	if err != nil {
		return err
	}
	info, _ := agenttrust.InspectTokenUnverified(worker)
	fmt.Printf("worker token     %d caveats, %d hop: %q\n\n", len(info.Caveats), len(info.HopIDs), info.Caveats[len(info.Caveats)-3:])

	charge := func(what, tok string, amount float64) {
		d, err := c.Check(ctx, agenttrust.Request{Tool: "payments.charge", Resource: "cust-42", Credential: tok,
			Attributes: map[string]any{"amount": amount}})
		verdict := "ALLOWED"
		if !d.Allowed() {
			verdict = "DENIED "
		}
		why := d.Reason
		if err != nil {
			why = err.Error()
		}
		fmt.Printf("%-34s %s  %s\n", what, verdict, why)
	}

	charge("worker charges $40", worker, 40)
	charge("worker charges $60", worker, 60)

	// Attenuation can only add caveats: a "wider" one changes nothing.
	wider, err := agenttrust.Attenuate(worker, "attr.amount <= 500")
	if err != nil {
		return err
	}
	charge("worker adds 'amount <= 500', $60", wider, 60)

	// Editing a caveat in the bytes breaks the HMAC chain.
	raw, _ := base64.RawURLEncoding.DecodeString(worker[len(agenttrust.TokenPrefix):])
	raw = bytes.Replace(raw, []byte("attr.amount <= 50"), []byte("attr.amount <= 90"), 1)
	forged := agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	charge("worker edits the cap to 90, $60", forged, 60)

	// Stop: revoking the planner's key kills every token derived from it.
	if err := c.Revoke(ctx, key.ID); err != nil {
		return err
	}
	fmt.Printf("\nrevoked %s\n", key.ID)
	charge("worker charges $40 again", worker, 40)
	return nil
}
