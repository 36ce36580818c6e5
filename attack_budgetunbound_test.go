package agenttrust_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/mac"
	"github.com/agenttrust/agenttrust/store"
)

// appendUnbound appends caveats to a token as any holder can, with the
// macaroon's HMAC alone: no hop, so they are bound to none.
func appendUnbound(t *testing.T, tok string, caveats ...string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, agenttrust.TokenPrefix))
	must.NoError(t, err)
	bs := make([][]byte, len(caveats))
	for i, c := range caveats {
		bs[i] = []byte(c)
	}
	out, err := mac.Attenuate(nil, raw, nil, bs...)
	must.NoError(t, err)
	return agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(out)
}

// A budget caveat a token's holder appends without a hop belongs to no
// node's declaration: it must not give the key, or a delegated hop, a
// budget in a currency its issuer did not budget, through which a
// request in that currency passes over the budget of the other.
func TestAttackBudgetUnboundCaveat(t *testing.T) {
	eur := map[string]any{"amount": 1000, "currency": "EUR"}
	for name, tc := range map[string]struct {
		key, hop []string
		appended string
		// The key's node refuses in the budget phase, naming the budget
		// it never declared; a hop's, in the credential phase.
		rule    string // "key/NAME": the refusing budget of the key
		wantErr error
	}{
		"on the key's node": {
			key:      []string{"budget attr.amount <= 50 USD"},
			appended: "budget attr.amount <= 1000000 EUR",
			rule:     "attr.amount EUR",
		},
		"on a delegated hop": {
			key:      []string{"budget attr.amount <= 50 USD", "budget attr.amount <= 5000 EUR"},
			hop:      []string{"budget attr.amount <= 5 USD"},
			appended: "budget attr.amount <= 5000 EUR",
			wantErr:  agenttrust.ErrCaveat,
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, budgetPolicy)
			secret, keyID := budgetKey(t, f, tc.key...)
			tok, err := f.c.Exchange(t.Context(), secret)
			must.NoError(t, err)
			if tc.hop != nil {
				tok, _, err = f.c.Delegate(t.Context(), tok, 0, tc.hop...)
				must.NoError(t, err)
			}
			forged := appendUnbound(t, tok, tc.appended)
			d, err := check(t, f, forged, "payments.charge", eur)
			must.Equal(t, agenttrust.Deny, d.Effect, "decision %+v", d)
			if tc.wantErr != nil {
				must.ErrorIs(t, err, tc.wantErr)
				return
			}
			must.NoError(t, err)
			must.Equal(t, "budget:"+keyID+"/"+tc.rule, d.Rule, "decision %+v", d)
			must.Contains(t, d.Reason, string(store.BudgetMismatch))
			// Nor may a delegation made from it carve the key's new budget.
			_, _, err = f.c.Delegate(t.Context(), forged, 0, "budget attr.amount <= 1 EUR")
			must.ErrorIs(t, err, agenttrust.ErrUnauthorized)
			must.Contains(t, err.Error(), string(store.BudgetMismatch))
		})
	}
}
