package agenttrust_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackStorePanicOutsideCheck: the calls that verify a credential
// outside Check (Exchange, ExchangeJWT, Delegate, NarrowJWT, and
// Authenticate, which a server runs on every request) read the store
// for the credential's revocations, and Authenticate for a token's root
// key. A store that panics there (a driver with a bug) panicked the
// caller, where Check, reading the same, denies. Each must fail with an
// error matching ErrInvalidConfig, minting and recording nothing, and
// work again once the store mends.
func TestAttackStorePanicOutsideCheck(t *testing.T) {
	const aud = "https://mcp.example"
	ctx := context.Background()
	ops := map[string]func(r *panicRig, key, tok string) error{
		"Exchange": func(r *panicRig, key, _ string) error {
			_, err := r.c.Exchange(ctx, key)
			return err
		},
		"ExchangeJWT": func(r *panicRig, key, _ string) error {
			_, err := r.c.ExchangeJWT(ctx, key, aud)
			return err
		},
		"Delegate": func(r *panicRig, _, tok string) error {
			_, _, err := r.c.Delegate(ctx, tok, 0, "attr.amount <= 5")
			return err
		},
		"NarrowJWT": func(r *panicRig, _, tok string) error {
			_, _, err := r.c.NarrowJWT(ctx, tok, aud, 0)
			return err
		},
		"Authenticate": func(r *panicRig, _, tok string) error {
			_, err := r.c.Authenticate(ctx, tok, netip.MustParseAddr("10.0.0.1"))
			return err
		},
	}
	cases := []struct{ method, op string }{
		{"Blocked", "Exchange"}, {"Blocked", "ExchangeJWT"}, {"Blocked", "Delegate"},
		{"Blocked", "NarrowJWT"}, {"Blocked", "Authenticate"},
		// A token's roles are its root key's, read from the store.
		{"Key", "Authenticate"},
	}
	for _, tc := range cases {
		t.Run(tc.method+"/"+tc.op, func(t *testing.T) {
			r := newPanicRig(t, false, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{aud}}))
			key, _, err := r.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := r.c.Exchange(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			before := len(r.sink.records())
			r.st.arm(tc.method)
			within(t, tc.op, func() { err = ops[tc.op](r, key, tok) })
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("%s = %v; want an error matching ErrInvalidConfig", tc.op, err)
			}
			r.st.arm("")
			if err := r.c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			if n := len(r.sink.records()); n != before {
				t.Errorf("the trail grew by %d records for a call that failed on its store", n-before)
			}
			within(t, tc.op+" again", func() { err = ops[tc.op](r, key, tok) })
			if err != nil {
				t.Fatalf("%s again: %v", tc.op, err)
			}
		})
	}
}
