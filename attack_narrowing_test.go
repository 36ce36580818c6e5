package agenttrust_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
)

var narrowing = []string{"tool in calendar.read", "session = s-narrow"}

// TestAttackNarrowing: through the library, a credential narrowed by a
// caveat on actions, or delegated, holds at most the agent role, and
// every action it is used for stays within its caveats.
func TestAttackNarrowing(t *testing.T) {
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
	ctx := context.Background()
	mk := func(agent string, roles ...string) string {
		secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: agent, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	admin, approver, both := mk("ops", store.RoleAdmin), mk("carol", store.RoleApprover), mk("sam", store.RoleAgent, store.RoleApprover)
	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// legacy stores a key that CreateKey would now refuse, as an older
	// store may hold it.
	rnd := newSeededRandom()
	legacy := func(agent string, roles []string, caveats []string) string {
		secret, err := apikey.Generate(rnd)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.CreateKey(ctx, store.Key{ID: "key_legacy" + agent, Tenant: agenttrust.DefaultTenant, AgentID: agent,
			Hash: apikey.Hash(secret), Roles: roles, Caveats: caveats, CreatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	adminTok := must(f.c.Exchange(ctx, admin))
	delegated, _, err := f.c.Delegate(ctx, adminTok, 0)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		agent string
		cred  string
		roles []string // what Authenticate must grant
	}{
		{"admin token, tool and session caveats", "ops", must(f.c.Exchange(ctx, admin, narrowing...)), []string{store.RoleAgent}},
		{"admin token, resource caveat", "ops", must(f.c.Exchange(ctx, admin, "resource in cal:*")), []string{store.RoleAgent}},
		{"admin token, on_behalf_of caveat", "ops", must(f.c.Exchange(ctx, admin, "on_behalf_of = nobody")), []string{store.RoleAgent}},
		{"admin token, attribute caveat", "ops", must(f.c.Exchange(ctx, admin, "attr.amount <= 5")), []string{store.RoleAgent}},
		{"admin token attenuated offline", "ops", must(agenttrust.Attenuate(adminTok, "tool = calendar.read")), []string{store.RoleAgent}},
		{"admin token delegated, no caveat", "ops", delegated, []string{store.RoleAgent}},
		{"admin JWT", "ops", must(f.c.ExchangeJWT(ctx, admin, "agenttrust", narrowing...)), []string{store.RoleAgent}},
		{"approver token", "carol", must(f.c.Exchange(ctx, approver, narrowing...)), nil},
		{"approver JWT", "carol", must(f.c.ExchangeJWT(ctx, approver, "agenttrust", narrowing...)), nil},
		{"agent+approver token", "sam", must(f.c.Exchange(ctx, both, narrowing...)), []string{store.RoleAgent}},
		{"admin key stored with caveats", "leg1", legacy("leg1", []string{store.RoleAdmin}, narrowing), []string{store.RoleAgent}},
		{"approver key stored with caveats", "leg2", legacy("leg2", []string{store.RoleApprover}, narrowing), nil},
		{"token of an admin key stored with caveats", "leg3", must(f.c.Exchange(ctx, legacy("leg3", []string{store.RoleAdmin}, narrowing))), []string{store.RoleAgent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.c.Authenticate(ctx, tc.cred, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			if !narrowed(p) || slices.Contains(p.Roles, store.RoleAdmin) || slices.Contains(p.Roles, store.RoleApprover) || !slices.Equal(p.Roles, tc.roles) {
				t.Fatalf("narrowed credential: %+v, want roles %v", p, tc.roles)
			}
			// Used for an action outside its caveats, it denies.
			out := agenttrust.Request{Tool: "payments.charge", SessionID: "s-narrow", Resource: "cust:1", OnBehalfOf: "ceo", Attributes: map[string]any{"amount": 500}, Credential: tc.cred}
			if len(p.Caveats) == 0 {
				return // delegated only: no action caveat to break
			}
			d, err := f.c.Check(ctx, out)
			if d.Allowed() || d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrCaveat) {
				t.Fatalf("outside its caveats: %v %v", d.Effect, err)
			}
		})
	}

	// Caveats on who and when are enforced at authentication and leave
	// the roles whole.
	for _, tc := range []struct {
		name string
		cavs []string
	}{
		{"no caveat", nil},
		{"expiry", []string{"expires < 2030-01-01T00:00:00Z"}},
		{"address", []string{"ip in 10.0.0.0/8"}},
		{"own agent", []string{"agent = ops"}},
	} {
		t.Run("control admin token, "+tc.name, func(t *testing.T) {
			tok := must(f.c.Exchange(ctx, admin, tc.cavs...))
			p, err := f.c.Authenticate(ctx, tok, netip.MustParseAddr("10.1.1.1"))
			if err != nil || narrowed(p) || !slices.Contains(p.Roles, store.RoleAdmin) {
				t.Fatalf("%+v %v", p, err)
			}
		})
	}

	// CreateKey refuses an admin or approver key that could only ever
	// act as an agent.
	for _, tc := range []struct {
		name  string
		roles []string
		cavs  []string
	}{
		{"admin, tool", []string{store.RoleAdmin}, []string{"tool in a.*"}},
		{"admin, resource", []string{store.RoleAdmin}, []string{"resource = r"}},
		{"admin, session", []string{store.RoleAdmin}, []string{"session = s"}},
		{"admin, on_behalf_of", []string{store.RoleAdmin}, []string{"on_behalf_of = u"}},
		{"admin, attribute", []string{store.RoleAdmin}, []string{"attr.n < 2"}},
		{"approver, tool", []string{store.RoleApprover}, []string{"tool = t"}},
		{"agent+approver, session", []string{store.RoleAgent, store.RoleApprover}, []string{"session = s"}},
		{"admin, tool after an expiry", []string{store.RoleAdmin}, []string{"expires < 2030-01-01T00:00:00Z", "tool = t"}},
	} {
		t.Run("CreateKey "+tc.name, func(t *testing.T) {
			_, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "x", Roles: tc.roles, Caveats: tc.cavs})
			if !errors.Is(err, errs.NarrowedRole) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Fatalf("CreateKey: %v", err)
			}
		})
	}
	t.Run("CreateKey control agent with caveats, admin with expiry and address", func(t *testing.T) {
		if _, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "x", Caveats: narrowing}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "x", Roles: []string{store.RoleAdmin}, AllowedIPs: []string{"10.0.0.0/8"},
			Caveats: []string{"expires < 2030-01-01T00:00:00Z", "ip in 10.0.0.0/8", "agent = x"}}); err != nil {
			t.Fatal(err)
		}
	})
}

// narrowed reports whether p's credential carries a caveat on actions or
// was delegated: then it holds at most the agent role.
func narrowed(p agenttrust.Principal) bool { return len(p.Caveats) > 0 || len(p.HopIDs) > 0 }
