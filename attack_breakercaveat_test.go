package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackBreakerCaveatDenials: a check its credential's own caveats
// refuse (a sub-agent's token narrowed to one tool, asked for another) is
// a denial its agent caused, and the runaway breaker counts it, as it
// counts a deny of the rules. Otherwise a prompt-injected sub-agent
// probing past its narrowing is refused without end and never suspended.
// Only a live credential of the client's own tenant, not revoked, counts:
// a revoked token's holder, or another tenant's token naming an agent of
// the same name, suspends no one here (controls).
func TestAttackBreakerCaveatDenials(t *testing.T) {
	const policy = "rules:\n  - {id: open, effect: allow}\n"
	breaker := agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxDenials: 3, DenialWindow: time.Minute})
	tokens := agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}})
	cases := []struct {
		name string
		// probe returns the credential to probe with, made on f (or on
		// another tenant's client of f's store).
		probe   func(t *testing.T, f *fixture) string
		suspend bool
	}{
		{"api key narrowed to a tool", func(t *testing.T, f *fixture) string {
			s, _, err := f.c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "bot", Caveats: []string{"tool = calendar.read"}})
			must.NoError(t, err)
			return s
		}, true},
		{"token delegated to a tool", func(t *testing.T, f *fixture) string {
			s, _, err := f.c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "bot"})
			must.NoError(t, err)
			tok, err := f.c.Exchange(t.Context(), s)
			must.NoError(t, err)
			child, _, err := f.c.Delegate(t.Context(), tok, 0, "tool = calendar.read")
			must.NoError(t, err)
			return child
		}, true},
		{"token attenuated offline to a resource", func(t *testing.T, f *fixture) string {
			s, _, err := f.c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "bot"})
			must.NoError(t, err)
			tok, err := f.c.Exchange(t.Context(), s)
			must.NoError(t, err)
			child, err := agenttrust.Attenuate(tok, "resource = cal/today")
			must.NoError(t, err)
			return child
		}, true},
		{"revoked delegated token (control)", func(t *testing.T, f *fixture) string {
			s, _, err := f.c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "bot"})
			must.NoError(t, err)
			tok, err := f.c.Exchange(t.Context(), s)
			must.NoError(t, err)
			child, hop, err := f.c.Delegate(t.Context(), tok, 0, "tool = calendar.read")
			must.NoError(t, err)
			must.NoError(t, f.c.Revoke(t.Context(), hop.ID))
			return child
		}, false},
		{"another tenant's token (control)", func(t *testing.T, f *fixture) string {
			other, err := agenttrust.New(f.st, agenttrust.WithTenant("other"), agenttrust.WithPolicy(mustPolicy(t, policy)), tokens)
			must.NoError(t, err)
			t.Cleanup(func() { other.Close() })
			s, _, err := other.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "bot"})
			must.NoError(t, err)
			tok, err := other.Exchange(t.Context(), s, "tool = calendar.read")
			must.NoError(t, err)
			return tok
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, policy, breaker, tokens)
			plain, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
			must.NoError(t, err)
			cred := tc.probe(t, f)
			for i := range 3 {
				d, err := f.c.Check(ctx, agenttrust.Request{Credential: cred, Tool: "payments.charge", Resource: "acct/1"})
				must.Equal(t, agenttrust.Deny, d.Effect, "probe %d", i)
				must.True(t, errors.Is(err, agenttrust.ErrUnauthorized), "probe %d: %v", i, err)
			}
			d, err := f.c.Check(ctx, agenttrust.Request{Credential: plain, Tool: "docs.read"})
			must.NoError(t, err)
			if tc.suspend {
				must.Equal(t, agenttrust.Deny, d.Effect, "after 3 probes past the caveats: %+v", d)
				must.Equal(t, "agent suspended", d.Reason)
			} else {
				must.Equal(t, agenttrust.Allow, d.Effect, "another tenant's probes suspended this tenant's agent: %+v", d)
			}
		})
	}
}
