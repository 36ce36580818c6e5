package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackInvalidRequestRecordedAsVictim: a request refused as invalid
// that presents a credential and claims another agent (Request.AgentID)
// is recorded under the credential's verified agent, or under no agent
// when the credential does not verify, never under the agent it claims:
// otherwise any caller could write refused attempts (a path traversal)
// into another agent's trail, as an agent mismatch once could.
func TestAttackInvalidRequestRecordedAsVictim(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, openPolicy)
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	must.NoError(t, err)
	tok, err := f.c.Exchange(ctx, key)
	must.NoError(t, err)
	for _, tc := range []struct {
		name, cred, want string
	}{
		{"API key", key, "bot"},
		{"token", tok, "bot"},
		{"credential that does not verify", tok[:len(tok)-4] + "AAAA", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{Credential: tc.cred, AgentID: "victim", Tool: "files.read", Resource: "docs/../secrets"})
			must.True(t, errors.Is(err, agenttrust.ErrInvalidRequest), "err %v", err)
			must.Equal(t, agenttrust.Deny, d.Effect)
			must.Equal(t, tc.want, d.AgentID, "the decision names the agent")
			var rec *agenttrust.AuditRecord
			for _, r := range f.records(t) {
				if r.ID == d.ID {
					rec = &r
				}
			}
			must.True(t, rec != nil, "no record of the decision")
			must.Equal(t, tc.want, rec.AgentID, "the record names the agent")
		})
	}
}
