package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/remote"
)

// TestAttackApprovalIDEchoesCredential: Check redacts a decision's reason,
// but took its approval id as sent, and middleware.ToolResultMessage
// hands that id to the model ("approval id ..."). A hostile endpoint, or
// one reflecting the request, answered needs_approval with the bearer API
// key or the presented credential as the approval id, and the model was
// shown it. A needs_approval whose approval id is not one (apr_..., with
// nothing a credential redactor would take out) is now a malformed
// answer: a Deny with an error matching ErrStoreUnavailable.
func TestAttackApprovalIDEchoesCredential(t *testing.T) {
	const id = "0b7e1c2a-4f3d-4e5b-9a6c-7d8e9f0a1b2c"
	const presented = "att_AgEEdGVzdAAgEEdGVzdAAgEEdGVzdAAgEEdGVzdAAgEEdGVzdA"
	keys := map[string]string{"an agenttrust key": agentKey, "an opaque key": "gw-9f8e7d6c5b4a39281706f5e4d3c2b1a0"}
	for kname, key := range keys {
		for _, tc := range []struct {
			name       string
			approvalID string
			held       bool // the answer must be believed: a needs-approval naming approvalID
		}{
			{"the key as the approval id", key, false},
			{"the presented credential as the approval id", presented, false},
			{"the key inside an apr_ id", "apr_" + key, false},
			{"an id that is not an approval's", "approval-7", false},
			{"control: an approval id", "apr_0123456789abcdefghijklmnopqrstuv", true},
		} {
			t.Run(kname+"/"+tc.name, func(t *testing.T) {
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(wire.CheckResponse{Effect: "needs_approval", Reason: "held", DecisionID: id, ApprovalID: tc.approvalID, AgentID: "agent-1"})
				}))
				defer ts.Close()
				c, err := remote.New(ts.URL, key, remote.WithRetries(0))
				if err != nil {
					t.Fatalf("%v", err)
				}
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				d, err := middleware.CheckToolCall(ctx, c, "docs.read", []byte(`{}`), middleware.EditRequest(func(r *agenttrust.Request) {
					r.AgentID, r.Credential = "agent-1", presented
				}))
				msg := middleware.ToolResultMessage(err)
				for _, secret := range []string{key, presented} {
					if strings.Contains(msg, secret[:12]) || strings.Contains(d.ApprovalID, secret[:12]) {
						t.Fatalf("the model is shown a credential: %q (approval id %q)", msg, d.ApprovalID)
					}
				}
				if tc.held {
					if d.Effect != agenttrust.NeedsApproval || !strings.Contains(msg, tc.approvalID) {
						t.Fatalf("Check = %v (%q), %q; want a needs-approval naming %s", d.Effect, d.ApprovalID, msg, tc.approvalID)
					}
					return
				}
				if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrStoreUnavailable) {
					t.Fatalf("Check = %v (%q), %v; want a Deny matching %v", d.Effect, d.ApprovalID, err, agenttrust.ErrStoreUnavailable)
				}
			})
		}
	}
}
