package agenttrust_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackAgentMismatchRecordedAsVictim: a verified credential of one
// agent presented with a Request.AgentID naming another is denied
// (agent_mismatch), and the decision and its audit record name the
// credential's agent, the one who tried, never the agent it claimed to
// be: otherwise any holder of a credential (a sub-agent holding a
// delegated token) could write refused attempts into another agent's
// trail, an admin's among them, and keep its own clean.
func TestAttackAgentMismatchRecordedAsVictim(t *testing.T) {
	const aud = "https://mcp.example"
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}, Audiences: []string{aud, "agenttrust"}}))
	ctx := context.Background()
	if _, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "ops", Roles: []string{store.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	key, k, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	info, err := agenttrust.InspectTokenUnverified(tok)
	if err != nil {
		t.Fatal(err)
	}
	child, hop, err := f.c.Delegate(ctx, tok, time.Minute, "tool in docs.*")
	if err != nil {
		t.Fatal(err)
	}
	offline, err := agenttrust.Attenuate(child, "resource in doc:*")
	if err != nil {
		t.Fatal(err)
	}
	jwtTok, err := f.c.ExchangeJWT(ctx, key, "agenttrust")
	if err != nil {
		t.Fatal(err)
	}
	narrowed, jhop, err := f.c.NarrowJWT(ctx, child, aud, 0)
	if err != nil {
		t.Fatal(err)
	}
	offlineHops := agenttrust.TokenInfo{}
	if offlineHops, err = agenttrust.InspectTokenUnverified(offline); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, cred, claimed, credID string
		hops                        []string
	}{
		{"API key claims the admin", key, "ops", k.ID, nil},
		{"token claims the admin", tok, "ops", info.ID, nil},
		{"delegated token claims the admin", child, "ops", info.ID, []string{hop.ID}},
		{"offline attenuated token claims another agent", offline, "billing-bot", info.ID, offlineHops.HopIDs},
		{"JWT claims the admin", jwtTok, "ops", id2(t, f, jwtTok), nil},
		{"narrowed JWT claims the admin", narrowed, "ops", info.ID, []string{hop.ID, jhop.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: tc.claimed, Tool: "docs.read", Resource: "doc:1", Credential: tc.cred})
			if !errors.Is(err, errs.AgentMismatch) || !errors.Is(err, agenttrust.ErrUnauthorized) || d.Allowed() || d.Effect != agenttrust.Deny {
				t.Fatalf("decision %v, err %v; want a deny with agent_mismatch", d.Effect, err)
			}
			if d.AgentID != "bot" || d.CredentialID != tc.credID || !slices.Equal(d.HopIDs, tc.hops) {
				t.Errorf("decision names agent %q credential %q hops %v; want bot %q %v", d.AgentID, d.CredentialID, d.HopIDs, tc.credID, tc.hops)
			}
			var rec *agenttrust.AuditRecord
			for _, r := range f.records(t) {
				if r.ID == d.ID {
					rec = &r
				}
			}
			if rec == nil || rec.Effect != agenttrust.Deny {
				t.Fatalf("no deny record: %+v", rec)
			}
			if rec.AgentID != "bot" || rec.CredentialID != tc.credID || !slices.Equal(rec.HopIDs, tc.hops) {
				t.Errorf("record names agent %q credential %q hops %v; want bot %q %v", rec.AgentID, rec.CredentialID, rec.HopIDs, tc.credID, tc.hops)
			}
		})
	}
}
