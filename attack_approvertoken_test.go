package agenttrust_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackApprovalOutlivesApproverToken: an approver exchanges its API
// key for a token or a JWT and decides with it, approving once or
// remembering the approval (the actor the server sets then names the
// token beside the key). The token leaks and the operator revokes its id
// (Revoke, `agenttrust revoke`): what it approved must allow nothing
// more. The approval and the grant kept only the approver and the key,
// so they kept allowing, for the grant's lifetime, under a credential
// the operator had stopped. Revoking another token of the same key
// changes nothing (control).
func TestAttackApprovalOutlivesApproverToken(t *testing.T) {
	type minted struct{ cred, id string }
	for _, format := range []string{"macaroon", "jwt"} {
		for _, remember := range []bool{false, true} {
			for _, tc := range []struct {
				name    string
				revoke  func(used, other minted) string
				allowed bool
			}{
				{"the approving token revoked", func(used, _ minted) string { return used.id }, false},
				{"another token of the key revoked (control)", func(_, other minted) string { return other.id }, true},
			} {
				name := format + "/" + map[bool]string{false: "once", true: "remembered"}[remember] + "/" + tc.name
				t.Run(name, func(t *testing.T) {
					ctx := context.Background()
					f := newFixture(t, grantRulePolicy,
						agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}, Audiences: []string{"agenttrust"}}))
					secret, key, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleAgent, store.RoleApprover}})
					must.NoError(t, err)
					mint := func() minted {
						t.Helper()
						var cred string
						var err error
						if format == "jwt" {
							cred, err = f.c.ExchangeJWT(ctx, secret, "agenttrust")
						} else {
							cred, err = f.c.Exchange(ctx, secret)
						}
						must.NoError(t, err)
						p, err := f.c.Authenticate(ctx, cred, netip.Addr{})
						must.NoError(t, err)
						must.True(t, p.CredentialID != key.ID, "the %s names its own id: %+v", format, p)
						return minted{cred: cred, id: p.CredentialID}
					}
					used, other := mint(), mint()
					p, err := f.c.Authenticate(ctx, used.cred, netip.Addr{})
					must.NoError(t, err)
					// As the server calls it: the approver authenticated
					// by the token, derived from its key.
					actx := actor.With(ctx, actor.Actor{AgentID: p.AgentID, KeyID: p.KeyID, Credentials: []string{p.CredentialID}})
					req := bindingBase()
					id := held(t, f.c, req)
					if remember {
						_, err = f.c.ApproveAndRemember(actx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
						must.NoError(t, err)
						// The approval allows its own request: the grant
						// is what the next one rests on.
						req.Resource = "cust-2"
					} else {
						must.NoError(t, f.c.Approve(actx, id, "bob", ""))
					}
					must.NoError(t, f.c.Revoke(ctx, tc.revoke(used, other)))
					d, err := f.c.Check(ctx, req)
					must.NoError(t, err)
					must.Equal(t, tc.allowed, d.Allowed(), "approved by bob's %s %s: %+v", format, used.id, d)
					if !tc.allowed {
						must.Equal(t, agenttrust.NeedsApproval, d.Effect)
					}
				})
			}
		}
	}
}
