package storetest

import (
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
	head, err := e.s.AuditHead(ctx)
	ok(t, err, "AuditHead after reopen")
	equalRecords(t, "AuditHead after reopen", []store.AuditRecord{head}, records(3, 3))
	isErr(t, e.s.AppendAudit(ctx, records(3, 3)), store.ErrConflict, "AppendAudit repeating the head after reopen")
	isErr(t, e.s.AppendAudit(ctx, records(5, 5)), store.ErrConflict, "AppendAudit with a gap after reopen")
	ok(t, e.s.AppendAudit(ctx, records(4, 5)), "AppendAudit after reopen")

	e.reopen(t)
	equalRecords(t, "QueryAudit after reopen", queryAudit(t, e.s, store.AuditQuery{}), records(1, 5))
}
