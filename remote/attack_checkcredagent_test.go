package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackCheckAllowForAnotherAgentThanTheCredentials: a check that
// presents a credential and names no agent is about the credential's
// agent, which the server decides for. SECURITY.md says the Go client
// refuses an allow about another agent than the one asked for, "the
// request's, or the checked credential's"; but it compared only with
// req.AgentID, so with none set an allow a cache or a hostile hop gave
// mallory was taken as an allow of alice's token, or of the client's own
// token. A token or JWT says whose it is: an allow about another agent is
// now a malformed answer, a Deny with an error matching
// ErrStoreUnavailable.
func TestAttackCheckAllowForAnotherAgentThanTheCredentials(t *testing.T) {
	ctx := context.Background()
	lib, err := agenttrust.New(memory.New())
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	key, _, err := lib.CreateKey(ctx, agenttrust.KeySpec{AgentID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := lib.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := lib.ExchangeJWT(ctx, key, "https://api.example")
	if err != nil {
		t.Fatal(err)
	}
	const id = "0b7e1c2a-4f3d-4e5b-9a6c-7d8e9f0a1b2c"
	allowFor := func(agent string) wire.CheckResponse {
		return wire.CheckResponse{Allowed: true, Effect: "allow", Reason: "r", DecisionID: id, AgentID: agent}
	}
	for _, tc := range []struct {
		name   string
		own    string // the client's own credential
		req    agenttrust.Request
		answer wire.CheckResponse
		allow  bool // the decision must be an Allow without error
	}{
		{"alice's token checked, allow for mallory", agentKey, agenttrust.Request{Tool: "payments.charge", Credential: token}, allowFor("mallory"), false},
		{"alice's JWT checked, allow for mallory", agentKey, agenttrust.Request{Tool: "payments.charge", Credential: jwt}, allowFor("mallory"), false},
		{"client's own token, allow for mallory", token, agenttrust.Request{Tool: "payments.charge"}, allowFor("mallory"), false},
		{"client's own JWT, allow for mallory", jwt, agenttrust.Request{Tool: "payments.charge"}, allowFor("mallory"), false},
		{"control: alice's token checked, allow for alice", agentKey, agenttrust.Request{Tool: "payments.charge", Credential: token}, allowFor("alice"), true},
		{"control: alice's JWT checked, allow for alice", agentKey, agenttrust.Request{Tool: "payments.charge", Credential: jwt}, allowFor("alice"), true},
		{"control: client's own token, allow for alice", token, agenttrust.Request{Tool: "payments.charge"}, allowFor("alice"), true},
		{"control: an API key checked, whose agent the client cannot read", agentKey, agenttrust.Request{Tool: "payments.charge", Credential: key}, allowFor("alice"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(tc.answer)
			}))
			defer ts.Close()
			c, err := remote.New(ts.URL, tc.own, remote.WithRetries(0))
			if err != nil {
				t.Fatalf("%v", err)
			}
			defer c.Close()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			d, err := c.Check(cctx, tc.req)
			if tc.allow {
				if err != nil || !d.Allowed() {
					t.Fatalf("Check = %v, %v; want an Allow", d.Effect, err)
				}
				return
			}
			if d.Allowed() {
				t.Fatalf("Check of alice's credential allowed on an allow about %q", tc.answer.AgentID)
			}
			if !errors.Is(err, agenttrust.ErrStoreUnavailable) {
				t.Errorf("err = %v, want %v", err, agenttrust.ErrStoreUnavailable)
			}
		})
	}
}
