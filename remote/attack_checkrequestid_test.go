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

// TestAttackCheckAnswerForAnotherRequest: the server echoes a request id
// it accepts as the answer's X-Request-Id, so an answer naming another
// request is not the answer to this one: a response handed to the wrong
// request on a shared connection (response-queue poisoning behind a
// desynchronised proxy) or replayed from another check. The Go client
// took an allow for payments.charge that the answer said was the
// answer to another request (an allow for docs.read, by the same agent,
// so the agent binding cannot tell). With Request.RequestID set to an id
// the server keeps, an answer that does not echo it exactly is now a
// malformed answer: a Deny with an error matching ErrStoreUnavailable.
func TestAttackCheckAnswerForAnotherRequest(t *testing.T) {
	const id = "0b7e1c2a-4f3d-4e5b-9a6c-7d8e9f0a1b2c"
	allow := wire.CheckResponse{Allowed: true, Effect: "allow", Reason: "r", DecisionID: id, AgentID: "bot"}
	for _, tc := range []struct {
		name   string
		sent   string   // Request.RequestID
		echoed []string // the answer's X-Request-Id values
		allow  bool     // the decision must be an Allow without error
	}{
		{"answer for another request", "req-mine", []string{"req-other"}, false},
		{"answer naming no request", "req-mine", nil, false},
		{"answer naming it in another case", "req-mine", []string{"REQ-MINE"}, false},
		{"answer naming two requests, this one first", "req-mine", []string{"req-mine", "req-other"}, false},
		{"control: answer for this request", "req-mine", []string{"req-mine"}, true},
		{"control: no request id sent", "", []string{"srv-made"}, true},
		{"control: an id the server replaces", "req#mine", []string{"srv-made"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.echoed != nil {
					w.Header()["X-Request-Id"] = tc.echoed
				}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(allow)
			}))
			defer ts.Close()
			c, err := remote.New(ts.URL, agentKey, remote.WithRetries(0))
			if err != nil {
				t.Fatalf("%v", err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d, err := c.Check(ctx, agenttrust.Request{Tool: "payments.charge", RequestID: tc.sent})
			if tc.allow {
				if err != nil || !d.Allowed() {
					t.Fatalf("Check = %v, %v; want an Allow", d.Effect, err)
				}
				return
			}
			if d.Allowed() {
				t.Fatalf("Check of request %q allowed on the answer to %q", tc.sent, tc.echoed)
			}
			if !errors.Is(err, agenttrust.ErrStoreUnavailable) {
				t.Errorf("err = %v, want %v", err, agenttrust.ErrStoreUnavailable)
			}
		})
	}
}
