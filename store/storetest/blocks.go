package storetest

import (
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

func revocationCases() []testCase {
	return []testCase{
		{name: "VisibleOnReturn", run: testRevokeVisibleOnReturn},
		{name: "KindSetByMethod", run: testKindSetByMethod},
		{name: "BlockedNoIDs", run: testBlockedNoIDs},
		{name: "BlockedNoMatch", run: testBlockedNoMatch},
		{name: "BlockedAnyID", run: testBlockedAnyID},
		{name: "BlockedFirstInIDOrder", run: testBlockedFirstInIDOrder},
		{name: "RevocationWinsOverSuspension", run: testRevocationWinsOverSuspension},
		{name: "RevocationWinsOnSameID", run: testRevocationWinsOnSameID},
		{name: "TenantsIsolated", run: testBlocksTenantsIsolated},
		{name: "ReRevokeKeepsLaterExpiry", run: testReRevokeKeepsLaterExpiry},
		{name: "ReRevokeKeepsFirstReason", run: testReRevokeKeepsFirstReason},
		{name: "BlocksOrder", run: testBlocksOrder},
		{name: "Prune", run: testPrune},
		{name: "PruneNothing", run: testPruneNothing},
	}
}

func suspensionCases() []testCase {
	return []testCase{
		{name: "SuspendResume", run: testSuspendResume},
		{name: "ResumeNotSuspended", run: testResumeNotSuspended},
		{name: "ResumeKeepsRevocation", run: testResumeKeepsRevocation},
		{name: "ReSuspendUpdatesReason", run: testReSuspendUpdatesReason},
	}
}

func testRevokeVisibleOnReturn(t *testing.T, e *env) {
	b := store.Block{Tenant: acme, ID: "tok-1", Reason: "leaked", CreatedAt: at(0), ExpiresAt: at(3600)}
	ok(t, e.s.Revoke(t.Context(), b), "Revoke")

	want := b
	want.Kind = store.Revoked
	got := blocked(t, e.s, acme, []string{"tok-1"}, "tok-1", store.Revoked)
	equalBlock(t, "Blocked", got, want)
	bs := listBlocks(t, e.s, acme)
	if len(bs) != 1 {
		t.Fatalf("Blocks = %q, want one block", blockKeys(bs))
	}
	equalBlock(t, "Blocks[0]", bs[0], want)
}

func testKindSetByMethod(t *testing.T, e *env) {
	ctx := t.Context()
	r := block(acme, "revoked-as-suspended", 0)
	r.Kind = store.Suspended
	ok(t, e.s.Revoke(ctx, r), "Revoke")
	s := block(acme, "suspended-as-revoked", 0)
	s.Kind = store.Revoked
	ok(t, e.s.Suspend(ctx, s), "Suspend")

	blocked(t, e.s, acme, []string{r.ID}, r.ID, store.Revoked)
	blocked(t, e.s, acme, []string{s.ID}, s.ID, store.Suspended)
	isErr(t, e.s.Resume(ctx, acme, r.ID), store.ErrNotFound, "Resume of a revocation")
	blocked(t, e.s, acme, []string{r.ID}, r.ID, store.Revoked)
	ok(t, e.s.Resume(ctx, acme, s.ID), "Resume")
	notBlocked(t, e.s, acme, s.ID)
}

func testBlockedNoIDs(t *testing.T, e *env) {
	notBlocked(t, e.s, acme)
	ok(t, e.s.Revoke(t.Context(), block(acme, "x", 0)), "Revoke")
	ok(t, e.s.Suspend(t.Context(), block(acme, "y", 0)), "Suspend")
	notBlocked(t, e.s, acme)
	notBlocked(t, e.s, acme, []string{}...)
}

func testBlockedNoMatch(t *testing.T, e *env) {
	notBlocked(t, e.s, acme, "a", "b")
	ok(t, e.s.Revoke(t.Context(), block(acme, "x", 0)), "Revoke")
	ok(t, e.s.Suspend(t.Context(), block(acme, "y", 0)), "Suspend")
	notBlocked(t, e.s, acme, "a", "b", "c", "")
	notBlocked(t, e.s, acme, "X", "x ", "yy")
}

func testBlockedAnyID(t *testing.T, e *env) {
	ok(t, e.s.Revoke(t.Context(), block(acme, "hop-3", 0)), "Revoke")
	ids := []string{"agent-1", "session-1", "hop-3", "cred-1"}
	blocked(t, e.s, acme, ids, "hop-3", store.Revoked)
	blocked(t, e.s, acme, []string{"hop-3"}, "hop-3", store.Revoked)
}

func testBlockedFirstInIDOrder(t *testing.T, e *env) {
	ctx := t.Context()
	for _, id := range []string{"s1", "s2"} {
		ok(t, e.s.Suspend(ctx, block(acme, id, 0)), "Suspend")
	}
	for _, id := range []string{"r1", "r2"} {
		ok(t, e.s.Revoke(ctx, block(acme, id, 0)), "Revoke")
	}
	blocked(t, e.s, acme, []string{"none", "s2", "s1"}, "s2", store.Suspended)
	blocked(t, e.s, acme, []string{"s1", "s2"}, "s1", store.Suspended)
	blocked(t, e.s, acme, []string{"r2", "r1"}, "r2", store.Revoked)
	blocked(t, e.s, acme, []string{"s1", "r1", "r2"}, "r1", store.Revoked)
}

func testRevocationWinsOverSuspension(t *testing.T, e *env) {
	ok(t, e.s.Suspend(t.Context(), block(acme, "agent-1", 0)), "Suspend")
	ok(t, e.s.Revoke(t.Context(), block(acme, "tok-1", 1)), "Revoke")
	blocked(t, e.s, acme, []string{"agent-1", "tok-1"}, "tok-1", store.Revoked)
	blocked(t, e.s, acme, []string{"tok-1", "agent-1"}, "tok-1", store.Revoked)
}

func testRevocationWinsOnSameID(t *testing.T, e *env) {
	ok(t, e.s.Suspend(t.Context(), block(acme, "x", 0)), "Suspend")
	ok(t, e.s.Revoke(t.Context(), block(acme, "x", 1)), "Revoke")
	blocked(t, e.s, acme, []string{"x"}, "x", store.Revoked)
	equalKeys(t, "Blocks", blockKeys(listBlocks(t, e.s, acme)), []string{"acme/x/suspended", "acme/x/revoked"})
}

func testBlocksTenantsIsolated(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.Revoke(ctx, block(acme, "x", 0)), "Revoke")
	ok(t, e.s.Suspend(ctx, block(acme, "y", 0)), "Suspend")

	notBlocked(t, e.s, globex, "x", "y")
	notBlocked(t, e.s, "", "x", "y")
	equalKeys(t, "Blocks(globex)", blockKeys(listBlocks(t, e.s, globex)), nil)
	isErr(t, e.s.Resume(ctx, globex, "y"), store.ErrNotFound, "Resume in another tenant")
	blocked(t, e.s, acme, []string{"y"}, "y", store.Suspended)
	if n, err := e.s.PruneRevocations(ctx, at(1)); err != nil || n != 0 {
		t.Fatalf("PruneRevocations = %d, %v; want 0, nil", n, err)
	}
}

func testReRevokeKeepsLaterExpiry(t *testing.T, e *env) {
	var never time.Time
	steps := []struct {
		expires, want time.Time
	}{
		{at(100), at(100)},
		{at(50), at(100)},  // earlier: kept
		{at(200), at(200)}, // later: replaces
		{never, never},     // never wins
		{at(300), never},   // and stays
	}
	for i, step := range steps {
		b := block(acme, "tok-1", i)
		b.ExpiresAt = step.expires
		ok(t, e.s.Revoke(t.Context(), b), "Revoke")

		bs := listBlocks(t, e.s, acme)
		if len(bs) != 1 {
			t.Fatalf("step %d: Blocks = %q, want one block", i, blockKeys(bs))
		}
		if !bs[0].ExpiresAt.Equal(step.want) {
			t.Fatalf("step %d: revoke with ExpiresAt %v: stored ExpiresAt %v, want %v", i, step.expires, bs[0].ExpiresAt, step.want)
		}
		got := blocked(t, e.s, acme, []string{"tok-1"}, "tok-1", store.Revoked)
		if !got.ExpiresAt.Equal(step.want) {
			t.Fatalf("step %d: Blocked ExpiresAt %v, want %v", i, got.ExpiresAt, step.want)
		}
	}
}

// A repeated revocation keeps the first Reason and CreatedAt, and the
// later ExpiresAt.
func testReRevokeKeepsFirstReason(t *testing.T, e *env) {
	ctx := t.Context()
	first := store.Block{Tenant: acme, ID: "tok-1", Reason: "leaked", CreatedAt: at(10), ExpiresAt: at(100)}
	ok(t, e.s.Revoke(ctx, first), "Revoke")
	ok(t, e.s.Revoke(ctx, store.Block{Tenant: acme, ID: "tok-1", Reason: "again", CreatedAt: at(20), ExpiresAt: at(200)}), "Revoke again")
	ok(t, e.s.Revoke(ctx, store.Block{Tenant: acme, ID: "tok-1", Reason: "earlier", CreatedAt: at(5), ExpiresAt: at(50)}), "Revoke a third time")

	want := first
	want.Kind = store.Revoked
	want.ExpiresAt = at(200)
	bs := listBlocks(t, e.s, acme)
	if len(bs) != 1 {
		t.Fatalf("Blocks = %q, want one block", blockKeys(bs))
	}
	equalBlock(t, "Blocks[0]", bs[0], want)
	equalBlock(t, "Blocked", blocked(t, e.s, acme, []string{"tok-1"}, "tok-1", store.Revoked), want)
}

func testBlocksOrder(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.Revoke(ctx, block(acme, "b", 20)), "Revoke")
	ok(t, e.s.Revoke(ctx, block(acme, "c", 10)), "Revoke")
	ok(t, e.s.Suspend(ctx, block(acme, "z", 5)), "Suspend")
	ok(t, e.s.Revoke(ctx, block(acme, "a", 10)), "Revoke")
	ok(t, e.s.Revoke(ctx, block(globex, "m", 15)), "Revoke")
	ok(t, e.s.Suspend(ctx, block(globex, "n", 1)), "Suspend")

	equalKeys(t, "Blocks(acme)", blockKeys(listBlocks(t, e.s, acme)),
		[]string{"acme/z/suspended", "acme/a/revoked", "acme/c/revoked", "acme/b/revoked"})
	equalKeys(t, "Blocks(globex)", blockKeys(listBlocks(t, e.s, globex)),
		[]string{"globex/n/suspended", "globex/m/revoked"})
	equalKeys(t, `Blocks("")`, blockKeys(listBlocks(t, e.s, "")), []string{
		"globex/n/suspended", "acme/z/suspended", "acme/a/revoked", "acme/c/revoked",
		"globex/m/revoked", "acme/b/revoked",
	})
}

func testPrune(t *testing.T, e *env) {
	ctx := t.Context()
	now := at(100)
	revoke := func(tenant, id string, expires time.Time) {
		t.Helper()
		b := block(tenant, id, 0)
		b.ExpiresAt = expires
		ok(t, e.s.Revoke(ctx, b), "Revoke")
	}
	revoke(acme, "past", at(50))
	revoke(acme, "now", now)
	revoke(acme, "future", at(101))
	revoke(acme, "never", time.Time{})
	revoke(globex, "past", at(50))
	revoke(acme, "both", at(50))
	ok(t, e.s.Suspend(ctx, block(acme, "both", 0)), "Suspend")
	sus := block(acme, "suspended", 0)
	sus.ExpiresAt = at(10) // a suspension is kept whatever its ExpiresAt
	ok(t, e.s.Suspend(ctx, sus), "Suspend")

	n, err := e.s.PruneRevocations(ctx, now)
	ok(t, err, "PruneRevocations")
	if n != 4 {
		t.Errorf("PruneRevocations = %d, want 4 (past, now, globex past, both)", n)
	}
	notBlocked(t, e.s, acme, "past", "now")
	notBlocked(t, e.s, globex, "past")
	blocked(t, e.s, acme, []string{"future"}, "future", store.Revoked)
	blocked(t, e.s, acme, []string{"never"}, "never", store.Revoked)
	blocked(t, e.s, acme, []string{"both"}, "both", store.Suspended)
	blocked(t, e.s, acme, []string{"suspended"}, "suspended", store.Suspended)
	equalKeys(t, `Blocks("")`, blockKeys(listBlocks(t, e.s, "")), []string{
		"acme/both/suspended", "acme/future/revoked", "acme/never/revoked", "acme/suspended/suspended",
	})

	n, err = e.s.PruneRevocations(ctx, now)
	ok(t, err, "PruneRevocations again")
	if n != 0 {
		t.Errorf("PruneRevocations again = %d, want 0", n)
	}
}

func testPruneNothing(t *testing.T, e *env) {
	n, err := e.s.PruneRevocations(t.Context(), at(0))
	if err != nil || n != 0 {
		t.Fatalf("PruneRevocations on an empty store = %d, %v; want 0, nil", n, err)
	}
}

func testSuspendResume(t *testing.T, e *env) {
	ctx := t.Context()
	b := store.Block{Tenant: acme, ID: "agent-1", Reason: "runaway loop", CreatedAt: at(0)}
	ok(t, e.s.Suspend(ctx, b), "Suspend")
	want := b
	want.Kind = store.Suspended
	equalBlock(t, "Blocked", blocked(t, e.s, acme, []string{"agent-1"}, "agent-1", store.Suspended), want)

	ok(t, e.s.Resume(ctx, acme, "agent-1"), "Resume")
	notBlocked(t, e.s, acme, "agent-1")
	equalKeys(t, "Blocks", blockKeys(listBlocks(t, e.s, acme)), nil)
}

func testResumeNotSuspended(t *testing.T, e *env) {
	ctx := t.Context()
	isErr(t, e.s.Resume(ctx, acme, "agent-1"), store.ErrNotFound, "Resume of an unknown id")
	ok(t, e.s.Suspend(ctx, block(acme, "agent-1", 0)), "Suspend")
	ok(t, e.s.Resume(ctx, acme, "agent-1"), "Resume")
	isErr(t, e.s.Resume(ctx, acme, "agent-1"), store.ErrNotFound, "second Resume")
}

func testResumeKeepsRevocation(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.Revoke(ctx, block(acme, "x", 0)), "Revoke")
	ok(t, e.s.Suspend(ctx, block(acme, "x", 1)), "Suspend")
	ok(t, e.s.Resume(ctx, acme, "x"), "Resume")
	blocked(t, e.s, acme, []string{"x"}, "x", store.Revoked)
	isErr(t, e.s.Resume(ctx, acme, "x"), store.ErrNotFound, "Resume of a revoked id")
	blocked(t, e.s, acme, []string{"x"}, "x", store.Revoked)
	equalKeys(t, "Blocks", blockKeys(listBlocks(t, e.s, acme)), []string{"acme/x/revoked"})
}

func testReSuspendUpdatesReason(t *testing.T, e *env) {
	ctx := t.Context()
	first := block(acme, "agent-1", 0)
	first.Reason = "first"
	ok(t, e.s.Suspend(ctx, first), "Suspend")
	second := block(acme, "agent-1", 10)
	second.Reason = "second"
	ok(t, e.s.Suspend(ctx, second), "Suspend again")

	bs := listBlocks(t, e.s, acme)
	if len(bs) != 1 || bs[0].Reason != "second" {
		t.Fatalf("Blocks = %+v, want one suspension with reason %q", bs, "second")
	}
	if b := blocked(t, e.s, acme, []string{"agent-1"}, "agent-1", store.Suspended); b.Reason != "second" {
		t.Fatalf("Blocked reason = %q, want %q", b.Reason, "second")
	}
	ok(t, e.s.Resume(ctx, acme, "agent-1"), "Resume")
	notBlocked(t, e.s, acme, "agent-1")
}
