package server

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackClientOptionPolicyChanged: Policy says a policy given to New
// is compiled then, so changing it afterwards changes nothing a client
// decides, and it may be shared. Given to the server with
// WithClientOptions(agenttrust.WithPolicy(p)), it was compiled only when
// a tenant's Client was built, on the tenant's first request (and again
// after it idled out): code that reuses the Policy value once the server
// is built (another server's looser variant, a rule switched off for a
// test run) silently rewrote what those tenants enforce. Each change
// below must leave the policy's Deny in place.
func TestAttackClientOptionPolicyChanged(t *testing.T) {
	ctx := context.Background()
	const doc = `
rules:
  - id: no-refunds
    effect: deny
    tools: [payments.refund]
  - id: read
    effect: allow
    tools: [docs.read]
`
	for _, tc := range []struct {
		name   string
		change func(p *agenttrust.Policy)
		tool   string // denied by the policy as given
	}{
		{"the deny rule becomes an allow", func(p *agenttrust.Policy) { p.Rules[0].Effect = agenttrust.Allow }, "payments.refund"},
		{"the default becomes allow", func(p *agenttrust.Policy) { p.Default = agenttrust.Allow }, "mail.send"},
		{"the allow rule's tools are widened in place", func(p *agenttrust.Policy) { p.Rules[1].Tools[0] = "*" }, "mail.send"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testkit.Policy(t, doc, "yaml")
			srv, err := New(memory.New(), WithNodeName("n1"), WithClock(newTestClock().Now), WithAuditKey(testAuditKey),
				WithClientOptions(testkit.Keys(), agenttrust.WithPolicy(p)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			tc.change(p)
			c, err := srv.Client(ctx, "acme") // the tenant's first request
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: tc.tool})
			if err != nil || d.Effect != agenttrust.Deny {
				t.Errorf("%s: %v by rule %q, %v; want the Deny of the policy as given", tc.tool, d.Effect, d.Rule, err)
			}
		})
	}
}
