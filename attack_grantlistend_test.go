package agenttrust_test

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackGrantsListOutlivesApproverKey: an approver remembers an
// approval for an hour with a key that ends in 15 minutes (its ExpiresAt
// or an "expires" caveat). A check stops using the grant when the key
// ends, but Grants (and GET /v1/grants) reported the grant's own expiry:
// an operator reviewing standing grants read an hour of authority that
// did not exist, and one auditing a key's end read a grant lasting past
// it. What Grants reports must match what a check would do: the grant
// ends with the key. A key without an end leaves the grant's own expiry
// (control).
func TestAttackGrantsListOutlivesApproverKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   func(now time.Time) agenttrust.KeySpec
		keyEnd bool
	}{
		{"key ExpiresAt before the grant's end", func(now time.Time) agenttrust.KeySpec {
			return agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}, ExpiresAt: now.Add(15 * time.Minute)}
		}, true},
		{"key expires caveat before the grant's end", func(now time.Time) agenttrust.KeySpec {
			return agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover},
				Caveats: []string{"expires < " + now.Add(15*time.Minute).UTC().Format(time.RFC3339Nano)}}
		}, true},
		{"key without an end (control)", func(time.Time) agenttrust.KeySpec {
			return agenttrust.KeySpec{AgentID: "bob", Roles: []string{store.RoleApprover}}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, grantRulePolicy)
			now := f.clock.Now()
			_, key, err := f.c.CreateKey(ctx, tc.spec(now))
			must.NoError(t, err)
			req := bindingBase()
			id := held(t, f.c, req)
			actx := actor.With(ctx, actor.Actor{AgentID: "bob", KeyID: key.ID})
			g, err := f.c.ApproveAndRemember(actx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			must.NoError(t, err)
			want := g.ExpiresAt
			if tc.keyEnd {
				want = now.Add(15 * time.Minute)
			}
			list, err := f.c.Grants(ctx, "")
			must.NoError(t, err)
			must.Equal(t, 1, len(list), "grants %+v", list)
			must.True(t, list[0].ExpiresAt.Equal(want), "Grants reports %s ending at %v; a check uses it until %v", g.ID, list[0].ExpiresAt, want)
			must.Equal(t, 5, list[0].UsesLeft)
			// What a check does at the end Grants reports: nothing more.
			f.clock.Advance(list[0].ExpiresAt.Sub(now))
			req.Resource = "cust-2"
			d, err := f.c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, agenttrust.NeedsApproval, d.Effect, "a check at the listed end of %s: %+v", g.ID, d)
		})
	}
}
