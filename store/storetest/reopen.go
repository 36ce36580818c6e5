package storetest

import (
	"slices"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// Data outlives the Store value. These cases run only with WithReopen.

func reopenCases() []testCase {
	return []testCase{
		{name: "Blocks", reopen: true, run: testReopenBlocks},
		{name: "Approvals", reopen: true, run: testReopenApprovals},
		{name: "Policies", reopen: true, run: testReopenPolicies},
		{name: "AuditChain", reopen: true, run: testReopenAuditChain},
		{name: "AuditChains", reopen: true, run: testReopenAuditChains},
		{name: "Keys", reopen: true, run: testReopenKeys},
		{name: "Hops", reopen: true, run: testReopenHops},
	}
}

func testReopenBlocks(t *testing.T, e *env) {
	ctx := t.Context()
	r := block(acme, "tok-1", 0)
	r.ExpiresAt = at(100)
	ok(t, e.s.Revoke(ctx, r), "Revoke")
	ok(t, e.s.Suspend(ctx, block(acme, "agent-1", 1)), "Suspend")
	ok(t, e.s.Revoke(ctx, block(globex, "tok-2", 2)), "Revoke")
	before := listBlocks(t, e.s, "")

	e.reopen(t)
	after := listBlocks(t, e.s, "")
	if len(after) != len(before) {
		t.Fatalf("Blocks after reopen: %q, want %q", blockKeys(after), blockKeys(before))
	}
	for i := range before {
		equalBlock(t, "Blocks after reopen", after[i], before[i])
	}
	blocked(t, e.s, acme, []string{"agent-1", "tok-1"}, "tok-1", store.Revoked)
	blocked(t, e.s, globex, []string{"tok-2"}, "tok-2", store.Revoked)
	ok(t, e.s.Resume(ctx, acme, "agent-1"), "Resume after reopen")
	notBlocked(t, e.s, acme, "agent-1")
	n, err := e.s.PruneRevocations(ctx, at(100))
	ok(t, err, "PruneRevocations after reopen")
	if n != 1 {
		t.Errorf("PruneRevocations after reopen = %d, want 1", n)
	}
}

func testReopenApprovals(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-2", 2, 1)), "CreateApproval")
	approved, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")

	e.reopen(t)
	equalApproval(t, "approved after reopen", getApproval(t, e.s, acme, "ap-1"), approved)
	equalApproval(t, "pending after reopen", getApproval(t, e.s, acme, "ap-2"), pendingApproval(acme, "ap-2", 2, 1))
	isErr(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-2", 2, 1)), store.ErrConflict, "CreateApproval of an existing id after reopen")
	_, err = e.s.PendingApproval(ctx, acme, fingerprint(2), at(20))
	ok(t, err, "PendingApproval after reopen")
	_, err = e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(20))
	ok(t, err, "ConsumeApproval after reopen")

	e.reopen(t)
	_, err = e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(21))
	isErr(t, err, store.ErrNotFound, "ConsumeApproval of an approval consumed before reopen")
}

func testReopenPolicies(t *testing.T, e *env) {
	ctx := t.Context()
	_, err := e.s.PutPolicy(ctx, policy(acme, "v1"), 0)
	ok(t, err, "PutPolicy")
	v2, err := e.s.PutPolicy(ctx, policy(acme, "v2"), 1)
	ok(t, err, "PutPolicy")

	e.reopen(t)
	got, err := e.s.Policy(ctx, acme)
	ok(t, err, "Policy after reopen")
	equalPolicy(t, "Policy after reopen", got, v2)
	_, err = e.s.PutPolicy(ctx, policy(acme, "stale"), 1)
	isErr(t, err, store.ErrConflict, "PutPolicy with a stale version after reopen")
	_, err = e.s.PutPolicy(ctx, policy(acme, "v3"), 2)
	ok(t, err, "PutPolicy after reopen")
}

func testReopenAuditChain(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, records(1, 3)), "AppendAudit")

	e.reopen(t)
	equalRecords(t, "AuditHead after reopen", []store.AuditRecord{auditHead(t, e.s, alpha)}, records(3, 3))
	isErr(t, e.s.AppendAudit(ctx, records(3, 3)), store.ErrConflict, "AppendAudit repeating the head after reopen")
	isErr(t, e.s.AppendAudit(ctx, records(5, 5)), store.ErrConflict, "AppendAudit with a gap after reopen")
	ok(t, e.s.AppendAudit(ctx, records(4, 5)), "AppendAudit after reopen")

	e.reopen(t)
	equalRecords(t, "QueryAudit after reopen", queryAudit(t, e.s, store.AuditQuery{}), records(1, 5))
}

// Each chain continues from its own head after a reopen.
func testReopenAuditChains(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 1, 2)), "AppendAudit alpha")
	ok(t, e.s.AppendAudit(ctx, chainRecords(bravo, 1, 3)), "AppendAudit bravo")
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 3, 3)), "AppendAudit alpha")

	e.reopen(t)
	equalRecords(t, "AuditHead alpha after reopen", []store.AuditRecord{auditHead(t, e.s, alpha)}, chainRecords(alpha, 3, 3))
	equalRecords(t, "AuditHead bravo after reopen", []store.AuditRecord{auditHead(t, e.s, bravo)}, chainRecords(bravo, 3, 3))
	_, err := e.s.AuditHead(ctx, charlie)
	isErr(t, err, store.ErrNotFound, "AuditHead of a chain without records after reopen")
	isErr(t, e.s.AppendAudit(ctx, chainRecords(bravo, 3, 3)), store.ErrConflict, "AppendAudit repeating bravo's head after reopen")
	isErr(t, e.s.AppendAudit(ctx, chainRecords(alpha, 5, 5)), store.ErrConflict, "AppendAudit with a gap in alpha after reopen")
	isErr(t, e.s.AppendAudit(ctx, []store.AuditRecord{chainRecord(alpha, 4), chainRecord(bravo, 4)}), store.ErrConflict,
		"AppendAudit mixing chains after reopen")
	ok(t, e.s.AppendAudit(ctx, chainRecords(bravo, 4, 4)), "AppendAudit bravo after reopen")
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 4, 5)), "AppendAudit alpha after reopen")
	ok(t, e.s.AppendAudit(ctx, chainRecords(charlie, 1, 1)), "AppendAudit charlie after reopen")

	e.reopen(t)
	equalRecords(t, "QueryAudit after reopen", queryAudit(t, e.s, store.AuditQuery{}),
		slices.Concat(chainRecords(alpha, 1, 5), chainRecords(bravo, 1, 4), chainRecords(charlie, 1, 1)))
}

func testReopenKeys(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-1", 1, 0)), "CreateKey")
	ok(t, e.s.CreateKey(ctx, apiKey(globex, "key-2", 2, 1)), "CreateKey")

	e.reopen(t)
	got, err := e.s.KeyByHash(ctx, keyHash(2))
	ok(t, err, "KeyByHash after reopen")
	equalKey(t, "KeyByHash after reopen", got, apiKey(globex, "key-2", 2, 1))
	equalKey(t, "Key after reopen", getKey(t, e.s, acme, "key-1"), apiKey(acme, "key-1", 1, 0))
	equalKeys(t, "Keys after reopen", keyIDs(listKeys(t, e.s, acme)), []string{"acme/key-1"})
	isErr(t, e.s.CreateKey(ctx, apiKey(acme, "key-1", 3, 2)), store.ErrConflict, "CreateKey of an existing id after reopen")
	isErr(t, e.s.CreateKey(ctx, apiKey(acme, "key-3", 2, 2)), store.ErrConflict, "CreateKey of an existing hash after reopen")
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-3", 3, 2)), "CreateKey after reopen")
}

func testReopenHops(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateHop(ctx, hop(acme, "hop-1", "", "tok-1", "key-1", 0)), "CreateHop")
	ok(t, e.s.CreateHop(ctx, hop(acme, "hop-2", "hop-1", "tok-1", "key-1", 1)), "CreateHop")

	e.reopen(t)
	hs := listHops(t, e.s, store.HopFilter{Tenant: acme, TokenID: "tok-1"})
	if len(hs) != 2 {
		t.Fatalf("Hops after reopen = %q, want two hops", hopIDs(hs))
	}
	equalHop(t, "Hops[0] after reopen", hs[0], hop(acme, "hop-1", "", "tok-1", "key-1", 0))
	equalHop(t, "Hops[1] after reopen", hs[1], hop(acme, "hop-2", "hop-1", "tok-1", "key-1", 1))
	isErr(t, e.s.CreateHop(ctx, hop(acme, "hop-2", "", "tok-2", "key-1", 2)), store.ErrConflict, "CreateHop of an existing id after reopen")
}
