package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackRefusedBearerRecorded: a bearer whose credential verifies
// (its key is found by its hash) but is refused for its age or its
// address, and asks for a check, leaves a record of the attempt naming
// the credential and its agent, as a revoked or suspended one does
// (TestAttackBlockedCallerRecorded) and as the library records a check
// refused after its credential verified: a stolen key tried after its
// expiry, or from outside its allowlist, is in the trail. A bearer that
// does not verify still writes nothing.
func TestAttackRefusedBearerRecorded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		spec    agenttrust.KeySpec
		advance time.Duration
		tamper  bool
		code    string
	}{
		{"expired key", agenttrust.KeySpec{AgentID: "x1", ExpiresAt: e.clock.Now().Add(time.Hour)}, 2 * time.Hour, false, "expired"},
		{"key past its expires caveat", agenttrust.KeySpec{AgentID: "x2", Caveats: []string{"expires < " + e.clock.Now().Add(5*time.Hour).UTC().Format(time.RFC3339)}}, 4 * time.Hour, false, "expired"},
		{"key from outside its allowlist", agenttrust.KeySpec{AgentID: "x3", AllowedIPs: []string{"10.0.0.0/8"}}, 0, false, "ip_not_allowed"},
		{"control: stranger with an unknown key", agenttrust.KeySpec{AgentID: "x4"}, 0, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred := e.createKey(ctx, "acme", tc.spec.AgentID, tc.spec)
			credID := e.ids["acme/"+tc.spec.AgentID]
			if tc.tamper {
				cred, credID = cred[:len(cred)-7]+strings.Repeat("0", 7), ""
			}
			e.clock.Advance(tc.advance)
			marker := "attempt-" + strings.ReplaceAll(tc.name, " ", "-")
			r := e.do("POST", "/v1/actions/check", cred, map[string]any{"tool_name": "docs.read", "resource": marker})
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", r.status, r.body)
			}
			if tc.code != "" {
				if got := r.code(t); got != tc.code {
					t.Fatalf("code %q, want %q", got, tc.code)
				}
			}
			recs := e.auditByResource(marker)
			if credID == "" {
				if len(recs) != 0 {
					t.Fatalf("an unverified bearer wrote to the audit: %v", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d records of the attempt, want 1", len(recs))
			}
			rec := recs[0]
			if rec["effect"] != "deny" || rec["credential_id"] != credID || rec["agent_id"] != tc.spec.AgentID || rec["tool"] != "docs.read" {
				t.Fatalf("record %v, want a deny by %s of agent %s", rec, credID, tc.spec.AgentID)
			}
		})
	}
}
