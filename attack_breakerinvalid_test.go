package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackBreakerInvalidRequests: a request refused as invalid (a
// resource climbing out with "..", an invisible character in a name,
// attribute names that fold to one) is a denial the request caused, and
// the runaway breaker counts it against the agent that made it, named by
// its credential or, without one, by the request. Otherwise an injected
// agent probing for path traversal or look-alike names is refused without
// end and never suspended.
func TestAttackBreakerInvalidRequests(t *testing.T) {
	const policy = `
rules:
  - {id: open, effect: allow}
`
	probes := []struct {
		name string
		req  agenttrust.Request
	}{
		{"dot segments", agenttrust.Request{Tool: "files.read", Resource: "reports/../../etc/passwd"}},
		{"encoded dot segment", agenttrust.Request{Tool: "files.read", Resource: "reports/%2e%2e/secrets"}},
		{"invisible character in the tool", agenttrust.Request{Tool: "files.\u200bdelete"}},
		{"attribute names folding to one", agenttrust.Request{Tool: "payments.charge", Attributes: map[string]any{"amount": 1, "AMOUNT": 9999}}},
	}
	for _, withKey := range []bool{false, true} {
		for _, p := range probes {
			name := p.name + "/agent named"
			if withKey {
				name = p.name + "/api key"
			}
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				f := newFixture(t, policy, agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxDenials: 3, DenialWindow: time.Minute}))
				secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
				must.NoError(t, err)
				probe := p.req
				if withKey {
					probe.Credential = secret
				} else {
					probe.AgentID = "bot"
				}
				for i := range 3 {
					d, err := f.c.Check(ctx, probe)
					must.Equal(t, agenttrust.Deny, d.Effect, "probe %d", i)
					must.True(t, errors.Is(err, agenttrust.ErrInvalidRequest), "probe %d: %v", i, err)
				}
				d, err := f.c.Check(ctx, agenttrust.Request{Credential: secret, Tool: "docs.read"})
				must.NoError(t, err)
				must.Equal(t, agenttrust.Deny, d.Effect, "after 3 invalid probes: %+v", d)
				must.Equal(t, "agent suspended", d.Reason)
			})
		}
	}
}
