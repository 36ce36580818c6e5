package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackClockPanicOutsideCheck: a clock given to WithClock may panic,
// or tell the zero time (one never set), in any call that reads it, not
// only in Check. Exchange, ExchangeJWT, Delegate, NarrowJWT,
// Authenticate, CreateKey and WaitApproval read it and let the panic
// reach their caller, a server's handler; told the zero time they took
// it, so an expired key minted tokens again and WaitApproval waited
// forever on an approval that had lapsed. Each must fail with an error
// matching ErrInvalidConfig, minting, storing and recording nothing, and
// the client must go on once the clock mends. Stats, which returns no
// error, must not panic either, and reports state held (RateState) when
// it cannot tell: a caller then keeps the client rather than lose it.
func TestAttackClockPanicOutsideCheck(t *testing.T) {
	const aud = "https://mcp.example"
	ctx := context.Background()
	type creds struct{ key, token, approval string }
	cases := []struct {
		name string
		act  func(r *panicRig, c creds) error
	}{
		{name: "Exchange", act: func(r *panicRig, c creds) error {
			_, err := r.c.Exchange(ctx, c.key)
			return err
		}},
		{name: "ExchangeJWT", act: func(r *panicRig, c creds) error {
			_, err := r.c.ExchangeJWT(ctx, c.key, aud)
			return err
		}},
		{name: "Delegate", act: func(r *panicRig, c creds) error {
			_, _, err := r.c.Delegate(ctx, c.token, 0, "attr.amount <= 5")
			return err
		}},
		{name: "NarrowJWT", act: func(r *panicRig, c creds) error {
			_, _, err := r.c.NarrowJWT(ctx, c.token, aud, 0)
			return err
		}},
		{name: "Authenticate", act: func(r *panicRig, c creds) error {
			_, err := r.c.Authenticate(ctx, c.token, netip.MustParseAddr("10.0.0.1"))
			return err
		}},
		{name: "CreateKey", act: func(r *panicRig, c creds) error {
			_, _, err := r.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
			return err
		}},
		{name: "WaitApproval", act: func(r *panicRig, c creds) error {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err := r.c.WaitApproval(wctx, c.approval)
			return err
		}},
	}
	for _, mode := range []int32{1, 2} {
		what := map[int32]string{1: "panics", 2: "tells the zero time"}[mode]
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/clock %s", tc.name, what), func(t *testing.T) {
				r := newPanicRig(t, false, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{aud}}))
				var c creds
				var err error
				// A key that has expired by the time the clock fails:
				// a zero time must not make it current again.
				c.key, _, err = r.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", ExpiresAt: r.clock.Now().Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				if c.token, err = r.c.Exchange(ctx, c.key); err != nil {
					t.Fatal(err)
				}
				d, err := r.c.Check(ctx, charge(100))
				if err != nil || d.ApprovalID == "" {
					t.Fatalf("Check = %v, %v", d.Effect, err)
				}
				c.approval = d.ApprovalID
				r.clock.base.Advance(2 * time.Hour)
				if err := r.c.SyncAudit(ctx); err != nil {
					t.Fatal(err)
				}
				before := len(r.sink.records())
				hops, err := r.c.Delegations(ctx, "", "")
				if err != nil {
					t.Fatal(err)
				}

				r.clock.set(mode)
				within(t, tc.name, func() { err = tc.act(r, c) })
				if !errors.Is(err, agenttrust.ErrInvalidConfig) {
					t.Fatalf("%s = %v; want an error matching ErrInvalidConfig", tc.name, err)
				}
				r.clock.set(0)
				if err := r.c.SyncAudit(ctx); err != nil {
					t.Fatal(err)
				}
				if n := len(r.sink.records()); n != before {
					t.Errorf("the trail grew by %d records for a call that failed on its clock", n-before)
				}
				if after, err := r.c.Delegations(ctx, "", ""); err != nil || len(after) != len(hops) {
					t.Errorf("Delegations = %d hops, %v; want the %d from before: a hop was stored", len(after), err, len(hops))
				}
				within(t, "a later Check", func() { d, err = r.c.Check(ctx, charge(1)) })
				if err != nil || !d.Allowed() {
					t.Fatalf("a later Check = %v, %v; want an Allow", d.Effect, err)
				}
			})
		}
	}
	t.Run("Stats/clock panics", func(t *testing.T) {
		r := newPanicRig(t, false)
		r.clock.set(1)
		var st agenttrust.Stats
		within(t, "Stats", func() { st = r.c.Stats() })
		if !st.RateState {
			t.Fatalf("Stats = %+v; want RateState when the clock cannot tell", st)
		}
	})
}
