package agenttrust_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackZonedAddressDodgesIPDeny: netip.Prefix.Contains is false for
// an address with a zone, so a caller at fe80::1%eth0 passed a deny of
// fe80::/10 (and of fe80::1 itself) as an address outside it. An address
// with a zone is now judged by no ip condition: unknown, so the deny
// applies, as a key's IP allowlist already refuses it.
func TestAttackZonedAddressDodgesIPDeny(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `
rules:
  - id: no-link-local
    effect: deny
    tools: [t]
    when: ['ip in fe80::/10']
  - id: not-this-host
    effect: deny
    tools: [u]
    when: ['ip = fe80::1']
  - id: open
    effect: allow
    tools: [t, u]
`)
	zoned := netip.MustParseAddr("fe80::1%eth0")
	for _, tool := range []string{"t", "u"} {
		if d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: tool, RemoteAddr: zoned}); d.Effect != agenttrust.Deny {
			t.Errorf("%s from %s: %v by %q (%v), want a deny", tool, zoned, d.Effect, d.Rule, err)
		}
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "t", RemoteAddr: netip.MustParseAddr("2001:db8::1")}); d.Effect != agenttrust.Allow {
		t.Errorf("control: %v (%v), want an allow", d.Effect, err)
	}
}
