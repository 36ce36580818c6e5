package agenttrust_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackDecisionHopIDsAliasCache: the hops a Decision names (and a
// custom engine's PolicyInput.HopIDs) are the caller's. A caller that
// edits them after Check returns (redacts them for a log, reuses the
// slice) must change neither the audit record of that check, written
// later by the flusher, nor what later checks of the same token see:
// the verified token is cached, and its hops are what revocation and
// "hop =" caveats are judged on. Otherwise the record names hops the
// token never passed through, and a revoked hop is reported as a caveat
// that does not hold (or, for a token the caller keeps, the token stops
// working) instead of ErrRevoked.
func TestAttackDecisionHopIDsAliasCache(t *testing.T) {
	ctx := context.Background()
	const bogus = "hop_rewrittenbythecaller"
	for _, tc := range []struct {
		name string
		// edit is what the caller does with the hops it was handed.
		edit func(d *agenttrust.Decision)
		// engine, when set, is a custom policy engine that edits the
		// hops of its input.
		engine bool
	}{
		{"caller overwrites Decision.HopIDs", func(d *agenttrust.Decision) { d.HopIDs[0] = bogus }, false},
		{"caller clears Decision.HopIDs", func(d *agenttrust.Decision) { clear(d.HopIDs) }, false},
		{"engine overwrites PolicyInput.HopIDs", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A sink that holds the first batch until the caller has
			// edited its Decision, as a busy flusher would.
			release := make(chan struct{})
			var once sync.Once
			var mu sync.Mutex
			var recorded [][]string
			sink := sinkFunc(func(_ context.Context, recs []agenttrust.AuditRecord) error {
				<-release
				mu.Lock()
				defer mu.Unlock()
				for _, r := range recs {
					if r.Tool == "docs.read" {
						recorded = append(recorded, slices.Clone(r.HopIDs))
					}
				}
				return nil
			})
			opts := []agenttrust.Option{
				agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}),
				agenttrust.WithClock(newTestClock().Now), agenttrust.WithRandom(newSeededRandom()),
				agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}),
			}
			if tc.engine {
				opts = append(opts, agenttrust.WithPolicyEngine(agenttrust.PolicyEngineFunc(
					func(_ context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
						for i := range in.HopIDs {
							in.HopIDs[i] = bogus
						}
						return agenttrust.PolicyResult{Effect: agenttrust.Allow}, nil
					})))
			} else {
				p, err := agenttrust.ParsePolicy([]byte(openPolicy), "yaml")
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, agenttrust.WithPolicy(p))
			}
			c, err := agenttrust.New(memory.New(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			defer once.Do(func() { close(release) })
			secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := c.Exchange(ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			sub, hop, err := c.Delegate(ctx, tok, 0)
			if err != nil {
				t.Fatal(err)
			}
			read := agenttrust.Request{Tool: "docs.read", Credential: sub}

			d, err := c.Check(ctx, read)
			if err != nil || !d.Allowed() {
				t.Fatalf("control: %v %v", d.Effect, err)
			}
			if tc.edit != nil {
				tc.edit(&d)
			}
			once.Do(func() { close(release) })

			// The same token again: still allowed, naming its hop.
			d, err = c.Check(ctx, read)
			if err != nil || !d.Allowed() || !slices.Equal(d.HopIDs, []string{hop.ID}) {
				t.Errorf("same token after the edit: %v %v, hops %v; want an Allow naming %s", d.Effect, err, d.HopIDs, hop.ID)
			}
			// Revoked: denied as revoked, not as a caveat that fails.
			if err := c.Revoke(ctx, hop.ID); err != nil {
				t.Fatal(err)
			}
			d, err = c.Check(ctx, read)
			if !errors.Is(err, agenttrust.ErrRevoked) || d.Effect != agenttrust.Deny {
				t.Errorf("after revoking the hop: %v %v; want a Deny with ErrRevoked", d.Effect, err)
			}
			if err := c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for i, hops := range recorded {
				if !slices.Equal(hops, []string{hop.ID}) {
					t.Errorf("record %d of the token's checks names hops %v; want [%s]", i, hops, hop.ID)
				}
			}
		})
	}
}
