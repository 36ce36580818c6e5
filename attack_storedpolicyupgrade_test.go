package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackStoredPolicyUpgradeBricksTenant: a version before 928dd0b's
// successors read a null field (tools: ~, a template's blank "tools:",
// JSON's "tools": null) as left out, and stored such documents. The
// parser now refuses them, as it should; but New refused the tenant with
// them, so every client of the tenant, and the server's tenant (the
// system tenant's serve), failed to open after the upgrade, with no
// client left to save a corrected policy through (PUT /v1/policy goes
// through the tenant's client). Each case wants the tenant to open,
// every check to deny with ErrInvalidPolicy naming the stored version
// and what to do, and a corrected policy saved over that version to
// take effect.
func TestAttackStoredPolicyUpgradeBricksTenant(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, format, body string }{
		{"yaml tools ~", "yaml", "rules:\n  - id: r\n    effect: allow\n    tools: ~\n"},
		{"yaml tools blank", "yaml", "rules:\n  - id: r\n    effect: allow\n    agents: [bot]\n    tools:\n"},
		{"yaml when ~", "yaml", "rules:\n  - id: r\n    effect: allow\n    tools: [mail.read]\n    when: ~\n"},
		{"json tools null", "json", `{"rules":[{"id":"r","effect":"allow","tools":null}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			// The document as the older version stored it.
			doc, err := st.PutPolicy(ctx, store.PolicyDoc{Tenant: agenttrust.DefaultTenant, Format: tc.format, Body: []byte(tc.body)}, 0)
			if err != nil {
				t.Fatal(err)
			}
			c, err := agenttrust.New(st)
			if err != nil {
				t.Fatalf("New refused the tenant over its stored policy, leaving no way to replace it: %v", err)
			}
			defer c.Close()
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "mail.read", Resource: "inbox"})
			if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidPolicy) {
				t.Fatalf("check under the refused stored policy: %v, %v; want Deny and ErrInvalidPolicy", d.Effect, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "stored policy version 1") || !strings.Contains(msg, "save a corrected policy") {
				t.Errorf("error does not say which document or what to do: %v", err)
			}
			v, err := c.SavePolicy(ctx, []byte("rules:\n  - id: r\n    effect: allow\n    tools: [mail.read]\n"), "yaml", doc.Version)
			if err != nil {
				t.Fatalf("saving a corrected policy over version %d: %v", doc.Version, err)
			}
			d, err = c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "mail.read", Resource: "inbox"})
			if d.Effect != agenttrust.Allow || err != nil {
				t.Fatalf("check under corrected version %d: %v, %v; want Allow", v, d.Effect, err)
			}
		})
	}
}
