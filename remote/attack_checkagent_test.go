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
)

// TestAttackCheckAllowForAnotherAgent: the server names in its answer the
// agent it decided about, and the Python and TypeScript clients refuse an
// allow about another agent than the one asked about; the Go client
// returned it as an Allow. A hostile endpoint (or a cache) replaying an
// allow it gave mallory made Check allow alice's action, and a checked
// credential of mallory's was let act as alice. Such an allow is now a
// malformed answer: a Deny with an error matching ErrStoreUnavailable. A
// deny about the credential's agent (the server's agent_mismatch) stays a
// deny.
func TestAttackCheckAllowForAnotherAgent(t *testing.T) {
	const id = "0b7e1c2a-4f3d-4e5b-9a6c-7d8e9f0a1b2c"
	answer := func(allowed bool, agent string) wire.CheckResponse {
		r := wire.CheckResponse{Allowed: allowed, Effect: "deny", Reason: "r", DecisionID: id, AgentID: agent}
		if allowed {
			r.Effect = "allow"
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		req    agenttrust.Request
		answer wire.CheckResponse
		allow  bool // the decision must be an Allow without error
	}{
		{"allow for another agent", agenttrust.Request{AgentID: "alice", Tool: "payments.charge"}, answer(true, "mallory"), false},
		{"allow for no agent", agenttrust.Request{AgentID: "alice", Tool: "payments.charge"}, answer(true, ""), false},
		{"allow for the agent in another case", agenttrust.Request{AgentID: "alice", Tool: "payments.charge"}, answer(true, "Alice"), false},
		{"allow for the credential's agent, another than asked", agenttrust.Request{AgentID: "alice", Tool: "payments.charge", Credential: "att_mallorysToken"}, answer(true, "mallory"), false},
		{"control: allow for the agent asked about", agenttrust.Request{AgentID: "alice", Tool: "payments.charge"}, answer(true, "alice"), true},
		{"control: allow when no agent was named", agenttrust.Request{Tool: "payments.charge"}, answer(true, "bot"), true},
		{"control: deny for the credential's agent", agenttrust.Request{AgentID: "alice", Tool: "payments.charge", Credential: "att_mallorysToken"}, answer(false, "mallory"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(tc.answer)
			}))
			defer ts.Close()
			c, err := remote.New(ts.URL, agentKey, remote.WithRetries(0))
			if err != nil {
				t.Fatalf("%v", err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d, err := c.Check(ctx, tc.req)
			if tc.allow {
				if err != nil || !d.Allowed() {
					t.Fatalf("Check = %v, %v; want an Allow", d.Effect, err)
				}
				return
			}
			if d.Allowed() {
				t.Fatalf("Check allowed %s's action on an allow about %q", tc.req.AgentID, tc.answer.AgentID)
			}
			if tc.answer.Allowed && !errors.Is(err, agenttrust.ErrStoreUnavailable) {
				t.Errorf("err = %v, want %v", err, agenttrust.ErrStoreUnavailable)
			}
		})
	}
}
