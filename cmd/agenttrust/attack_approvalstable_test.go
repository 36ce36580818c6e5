package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/wire"
)

// A granted approval allows only a request of the same session and on
// behalf of the same principal, and an approver deciding from the CLI
// reads "approvals list", whose table left both out: an agent acting for
// alice asked to send mail as the CEO (on_behalf_of) and the table showed
// the same row as alice's own request. The table shows every field the
// grant binds.
func TestAttackCLIApprovalsTableShowsBinding(t *testing.T) {
	a := wire.ApprovalView{
		ID: "apr_1", AgentID: "bot", SessionID: "sess-attacker-9", OnBehalfOf: "ceo@corp.example",
		ToolName: "mail.send", Resource: "mailbox:all-staff", Attributes: json.RawMessage(`{"subject":"hi"}`),
		RuleID: "mail", Status: "pending",
		CreatedAt: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC),
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/approvals" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		b, _ := json.Marshal(wire.ApprovalList{Approvals: []wire.ApprovalView{a}})
		w.Write(b)
	}))
	t.Cleanup(ts.Close)
	res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "approvals", "list")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, tc := range []struct{ field, value string }{
		{"session", a.SessionID},
		{"on_behalf_of", a.OnBehalfOf},
		{"resource", a.Resource},
		{"attributes", `{"subject":"hi"}`},
	} {
		t.Run(tc.field, func(t *testing.T) {
			if !strings.Contains(res.stdout, tc.value) {
				t.Errorf("the table lacks the %s %q:\n%s", tc.field, tc.value, res.stdout)
			}
		})
	}
}
