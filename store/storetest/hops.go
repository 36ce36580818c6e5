package storetest

import (
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

func hopCases() []testCase {
	return []testCase{
		{name: "CreateList", run: testHopCreateList},
		{name: "Duplicate", run: testHopDuplicate},
		{name: "SameIDOtherTenant", run: testHopSameIDOtherTenant},
		{name: "Filter", run: testHopFilter},
		{name: "Order", run: testHopOrder},
		{name: "TenantRequired", run: testHopTenantRequired},
	}
}

func testHopCreateList(t *testing.T, e *env) {
	ctx := t.Context()
	equalKeys(t, "Hops of an empty store", hopIDs(listHops(t, e.s, store.HopFilter{Tenant: acme})), nil)
	first := hop(acme, "hop-1", "", "tok-1", "key-1", 0)
	ok(t, e.s.CreateHop(ctx, first), "CreateHop")
	second := hop(acme, "hop-2", "hop-1", "tok-1", "key-1", 1)
	second.Caveats = nil
	second.ExpiresAt = at(300)
	ok(t, e.s.CreateHop(ctx, second), "CreateHop of a child")

	hs := listHops(t, e.s, store.HopFilter{Tenant: acme})
	if len(hs) != 2 {
		t.Fatalf("Hops = %q, want two hops", hopIDs(hs))
	}
	equalHop(t, "Hops[0]", hs[0], hop(acme, "hop-1", "", "tok-1", "key-1", 0))
	equalHop(t, "Hops[1]", hs[1], second)
}

func testHopDuplicate(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateHop(ctx, hop(acme, "hop-1", "", "tok-1", "key-1", 0)), "CreateHop")
	isErr(t, e.s.CreateHop(ctx, hop(acme, "hop-1", "hop-0", "tok-2", "key-2", 5)), store.ErrConflict, "CreateHop with an existing id")
	hs := listHops(t, e.s, store.HopFilter{Tenant: acme})
	if len(hs) != 1 {
		t.Fatalf("Hops after a conflict = %q, want one hop", hopIDs(hs))
	}
	equalHop(t, "Hops after a conflict", hs[0], hop(acme, "hop-1", "", "tok-1", "key-1", 0))
}

// Whether a hop id is unique per tenant or across tenants is the
// backend's choice; either way tenants do not see each other's hops.
func testHopSameIDOtherTenant(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateHop(ctx, hop(acme, "hop-1", "", "tok-1", "key-1", 0)), "CreateHop")
	err := e.s.CreateHop(ctx, hop(globex, "hop-1", "", "tok-9", "key-9", 1))
	var want []string
	if err != nil {
		isErr(t, err, store.ErrConflict, "CreateHop with an id existing in another tenant")
	} else {
		want = []string{"globex/hop-1"}
		hs := listHops(t, e.s, store.HopFilter{Tenant: globex})
		if len(hs) == 1 {
			equalHop(t, "Hops(globex)", hs[0], hop(globex, "hop-1", "", "tok-9", "key-9", 1))
		}
	}
	equalKeys(t, "Hops(globex)", hopIDs(listHops(t, e.s, store.HopFilter{Tenant: globex})), want)
	hs := listHops(t, e.s, store.HopFilter{Tenant: acme})
	if len(hs) != 1 {
		t.Fatalf("Hops(acme) = %q, want one hop", hopIDs(hs))
	}
	equalHop(t, "Hops(acme)", hs[0], hop(acme, "hop-1", "", "tok-1", "key-1", 0))
}

func testHopFilter(t *testing.T, e *env) {
	ctx := t.Context()
	for _, h := range []store.Hop{
		hop(acme, "hop-1", "", "tok-1", "key-1", 0),
		hop(acme, "hop-2", "hop-1", "tok-1", "key-1", 1),
		hop(acme, "hop-3", "", "tok-2", "key-1", 2),
		hop(acme, "hop-4", "", "tok-3", "key-2", 3),
		hop(acme, "hop-5", "", "tok-4", "", 4), // a token not from an API key
		hop(globex, "hop-6", "", "tok-1", "key-1", 5),
	} {
		ok(t, e.s.CreateHop(ctx, h), "CreateHop "+h.ID)
	}
	tests := []struct {
		name string
		f    store.HopFilter
		want []string
	}{
		{"tenant", store.HopFilter{Tenant: acme}, []string{"acme/hop-1", "acme/hop-2", "acme/hop-3", "acme/hop-4", "acme/hop-5"}},
		{"other tenant", store.HopFilter{Tenant: globex}, []string{"globex/hop-6"}},
		{"token", store.HopFilter{Tenant: acme, TokenID: "tok-1"}, []string{"acme/hop-1", "acme/hop-2"}},
		{"key", store.HopFilter{Tenant: acme, KeyID: "key-1"}, []string{"acme/hop-1", "acme/hop-2", "acme/hop-3"}},
		{"token and key", store.HopFilter{Tenant: acme, TokenID: "tok-2", KeyID: "key-1"}, []string{"acme/hop-3"}},
		{"token of another key", store.HopFilter{Tenant: acme, TokenID: "tok-2", KeyID: "key-2"}, nil},
		{"unknown token", store.HopFilter{Tenant: acme, TokenID: "tok-9"}, nil},
		{"tenant without hops", store.HopFilter{Tenant: "initech", TokenID: "tok-1"}, nil},
	}
	for _, tt := range tests {
		equalKeys(t, "Hops "+tt.name, hopIDs(listHops(t, e.s, tt.f)), tt.want)
	}
}

// Hops are listed by CreatedAt, then ID.
func testHopOrder(t *testing.T, e *env) {
	ctx := t.Context()
	for _, h := range []struct {
		id      string
		created int
	}{
		{"hop-b", 20}, {"hop-c", 10}, {"hop-z", 5}, {"hop-a", 10}, {"hop-d", 30},
	} {
		ok(t, e.s.CreateHop(ctx, hop(acme, h.id, "", "tok-1", "key-1", h.created)), "CreateHop")
	}
	equalKeys(t, "Hops", hopIDs(listHops(t, e.s, store.HopFilter{Tenant: acme})),
		[]string{"acme/hop-z", "acme/hop-a", "acme/hop-c", "acme/hop-b", "acme/hop-d"})
	equalKeys(t, "Hops by token", hopIDs(listHops(t, e.s, store.HopFilter{Tenant: acme, TokenID: "tok-1"})),
		[]string{"acme/hop-z", "acme/hop-a", "acme/hop-c", "acme/hop-b", "acme/hop-d"})
}

// HopFilter.Tenant is required: an empty one never lists every tenant's
// hops. A backend may refuse it with ErrInvalid, or take it for the empty
// tenant, a tenant like any other.
func testHopTenantRequired(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateHop(ctx, hop(acme, "hop-1", "", "tok-1", "key-1", 0)), "CreateHop")
	hs, err := e.s.Hops(ctx, store.HopFilter{})
	if err != nil {
		isErr(t, err, store.ErrInvalid, "Hops with an empty tenant")
		return
	}
	equalKeys(t, `Hops("")`, hopIDs(hs), nil)
	hs, err = e.s.Hops(ctx, store.HopFilter{TokenID: "tok-1"})
	ok(t, err, `Hops("") by token`)
	equalKeys(t, `Hops("") by token`, hopIDs(hs), nil)
}
