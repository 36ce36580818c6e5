package storetest

import (
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// Arguments that break the contract are refused with ErrInvalid and change
// nothing.

func invalidCases() []testCase {
	return []testCase{
		{name: "EmptyIDs", run: testInvalidEmptyIDs},
		{name: "EmptyIDLookups", run: testInvalidEmptyIDLookups},
		{name: "EmptyTenantIsValid", run: testInvalidEmptyTenantIsValid},
	}
}

// A write naming what it stores with an empty id is refused with
// ErrInvalid; so is an audit batch of the empty chain, which no query
// could name apart from every chain.
func testInvalidEmptyIDs(t *testing.T, e *env) {
	ctx := t.Context()
	seed(t, e.s)
	before := dump(t, e.s)
	writes := []struct {
		name string
		err  error
	}{
		{"Revoke", e.s.Revoke(ctx, block(acme, "", 1))},
		{"Suspend", e.s.Suspend(ctx, block(acme, "", 1))},
		{"CreateApproval", e.s.CreateApproval(ctx, pendingApproval(acme, "", 9, 1))},
		{"CreateKey", e.s.CreateKey(ctx, apiKey(acme, "", 9, 1))},
		{"CreateHop", e.s.CreateHop(ctx, hop(acme, "", "", "tok-1", "key-1", 1))},
		{"AppendAudit", e.s.AppendAudit(ctx, chainRecords("", 1, 1))},
	}
	for _, w := range writes {
		isErr(t, w.err, store.ErrInvalid, w.name+" with an empty id")
	}
	equal(t, "contents after refused writes", dump(t, e.s), before)
	_, err := e.s.KeyByHash(ctx, keyHash(9))
	isErr(t, err, store.ErrNotFound, "KeyByHash of a key refused for its empty id")
}

// A call looking up an empty id finds nothing: it fails with ErrInvalid or
// ErrNotFound, and changes nothing.
func testInvalidEmptyIDLookups(t *testing.T, e *env) {
	ctx := t.Context()
	seed(t, e.s)
	before := dump(t, e.s)
	_, errApproval := e.s.Approval(ctx, acme, "")
	_, errDecide := e.s.DecideApproval(ctx, acme, "", approve(at(10), at(600)))
	_, errKey := e.s.Key(ctx, acme, "")
	_, errHead := e.s.AuditHead(ctx, "")
	lookups := []struct {
		name string
		err  error
	}{
		{"Resume", e.s.Resume(ctx, acme, "")},
		{"Approval", errApproval},
		{"DecideApproval", errDecide},
		{"Key", errKey},
		{"AuditHead", errHead},
	}
	for _, l := range lookups {
		isErrOneOf(t, l.err, l.name+" of an empty id", store.ErrInvalid, store.ErrNotFound)
	}
	equal(t, "contents after lookups of empty ids", dump(t, e.s), before)
}

// The empty tenant is a tenant like any other: ids in it are stored and
// found, apart from other tenants'.
func testInvalidEmptyTenantIsValid(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.Revoke(ctx, block("", "x", 0)), "Revoke in the empty tenant")
	blocked(t, e.s, "", []string{"x"}, "x", store.Revoked)
	notBlocked(t, e.s, acme, "x")
	ok(t, e.s.Suspend(ctx, block("", "y", 0)), "Suspend in the empty tenant")
	ok(t, e.s.Resume(ctx, "", "y"), "Resume in the empty tenant")
	ok(t, e.s.CreateApproval(ctx, pendingApproval("", "ap-1", 1, 0)), "CreateApproval in the empty tenant")
	equalApproval(t, "Approval in the empty tenant", getApproval(t, e.s, "", "ap-1"), pendingApproval("", "ap-1", 1, 0))
	_, err := e.s.Approval(ctx, acme, "ap-1")
	isErr(t, err, store.ErrNotFound, "Approval of the empty tenant's id in another tenant")
	_, err = e.s.PutPolicy(ctx, policy("", "p"), 0)
	ok(t, err, "PutPolicy in the empty tenant")
	_, err = e.s.Policy(ctx, acme)
	isErr(t, err, store.ErrNotFound, "Policy of another tenant")
	ok(t, e.s.CreateHop(ctx, hop("", "hop-1", "", "tok-1", "", 0)), "CreateHop in the empty tenant")
	equalKeys(t, "Hops(acme)", hopIDs(listHops(t, e.s, store.HopFilter{Tenant: acme})), nil)
}
