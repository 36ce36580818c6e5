package storetest

import (
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// Values passed in and returned are copies: a caller that mutates them,
// after the call, changes nothing in the store.

func copyCases() []testCase {
	return []testCase{
		{name: "ApprovalIn", run: testCopyApprovalIn},
		{name: "ApprovalOut", run: testCopyApprovalOut},
		{name: "PolicyInOut", run: testCopyPolicyInOut},
		{name: "AuditIn", run: testCopyAuditIn},
		{name: "AuditOut", run: testCopyAuditOut},
		{name: "BlocksOut", run: testCopyBlocksOut},
	}
}

func scribbleApproval(a store.Approval) {
	for i := range a.Attributes {
		a.Attributes[i] = 'X'
	}
	for i := range a.Approvers {
		a.Approvers[i] = "mallory"
	}
}

func scribbleRecord(r store.AuditRecord) {
	for i := range r.Attributes {
		r.Attributes[i] = 'X'
	}
	for i := range r.HopIDs {
		r.HopIDs[i] = "forged"
	}
}

func testCopyApprovalIn(t *testing.T, e *env) {
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(t.Context(), a), "CreateApproval")
	scribbleApproval(a)
	equalApproval(t, "Approval after the input was changed", getApproval(t, e.s, acme, "ap-1"), pendingApproval(acme, "ap-1", 1, 0))
}

func testCopyApprovalOut(t *testing.T, e *env) {
	ctx := t.Context()
	for _, id := range []string{"ap-1", "ap-2"} {
		ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, id, 1, 0)), "CreateApproval")
	}
	unchanged := func(what string) {
		t.Helper()
		equalApproval(t, "ap-2 after changing the result of "+what, getApproval(t, e.s, acme, "ap-2"), pendingApproval(acme, "ap-2", 1, 0))
	}

	scribbleApproval(getApproval(t, e.s, acme, "ap-2"))
	unchanged("Approval")
	list, err := e.s.Approvals(ctx, store.ApprovalFilter{Tenant: acme})
	ok(t, err, "Approvals")
	for _, a := range list {
		scribbleApproval(a)
	}
	list[1].Reason = "changed"
	unchanged("Approvals")
	pending, err := e.s.PendingApproval(ctx, acme, fingerprint(1), at(1))
	ok(t, err, "PendingApproval")
	scribbleApproval(pending)
	unchanged("PendingApproval")

	decided, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")
	want := getApproval(t, e.s, acme, "ap-1")
	scribbleApproval(decided)
	equalApproval(t, "ap-1 after changing the result of DecideApproval", getApproval(t, e.s, acme, "ap-1"), want)
	consumed, err := e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(20))
	ok(t, err, "ConsumeApproval")
	want = getApproval(t, e.s, acme, consumed.ID)
	scribbleApproval(consumed)
	equalApproval(t, "approval after changing the result of ConsumeApproval", getApproval(t, e.s, acme, want.ID), want)
}

func testCopyPolicyInOut(t *testing.T, e *env) {
	ctx := t.Context()
	doc := policy(acme, "permit(principal, action, resource);")
	put, err := e.s.PutPolicy(ctx, doc, 0)
	ok(t, err, "PutPolicy")
	want := policy(acme, "permit(principal, action, resource);")
	want.Version = 1

	for _, b := range [][]byte{doc.Body, put.Body} {
		for i := range b {
			b[i] = 'X'
		}
	}
	got, err := e.s.Policy(ctx, acme)
	ok(t, err, "Policy")
	equalPolicy(t, "Policy after changing PutPolicy's input and result", got, want)
	for i := range got.Body {
		got.Body[i] = 'X'
	}
	got, err = e.s.Policy(ctx, acme)
	ok(t, err, "Policy")
	equalPolicy(t, "Policy after changing Policy's result", got, want)
}

func testCopyAuditIn(t *testing.T, e *env) {
	batch := records(1, 2)
	ok(t, e.s.AppendAudit(t.Context(), batch), "AppendAudit")
	for _, r := range batch {
		scribbleRecord(r)
	}
	batch[0].Reason = "changed"
	equalRecords(t, "QueryAudit after changing the input", queryAudit(t, e.s, store.AuditQuery{}), records(1, 2))
}

func testCopyAuditOut(t *testing.T, e *env) {
	ok(t, e.s.AppendAudit(t.Context(), records(1, 2)), "AppendAudit")
	for _, r := range queryAudit(t, e.s, store.AuditQuery{}) {
		scribbleRecord(r)
	}
	head, err := e.s.AuditHead(t.Context())
	ok(t, err, "AuditHead")
	scribbleRecord(head)
	equalRecords(t, "QueryAudit after changing results", queryAudit(t, e.s, store.AuditQuery{}), records(1, 2))
}

func testCopyBlocksOut(t *testing.T, e *env) {
	ok(t, e.s.Revoke(t.Context(), block(acme, "x", 0)), "Revoke")
	bs := listBlocks(t, e.s, acme)
	bs[0].Reason = "changed"
	want := block(acme, "x", 0)
	want.Kind = store.Revoked
	equalBlock(t, "Blocks after changing a result", listBlocks(t, e.s, acme)[0], want)
	equalBlock(t, "Blocked after changing a result", blocked(t, e.s, acme, []string{"x"}, "x", store.Revoked), want)
}
