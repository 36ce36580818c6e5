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
		{name: "KeyIn", run: testCopyKeyIn},
		{name: "KeyOut", run: testCopyKeyOut},
		{name: "HopInOut", run: testCopyHopInOut},
	}
}

// scribbleKey overwrites k's slices in place and appends to them, as a
// careless caller might.
func scribbleKey(k store.Key) {
	for _, s := range [][]string{k.Roles, k.AllowedIPs, k.Caveats} {
		for i := range s {
			s[i] = "forged"
		}
		_ = append(s, "appended")
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
	head, err := e.s.AuditHead(t.Context(), alpha)
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

func testCopyKeyIn(t *testing.T, e *env) {
	k := apiKey(acme, "key-1", 1, 0)
	ok(t, e.s.CreateKey(t.Context(), k), "CreateKey")
	scribbleKey(k)
	want := apiKey(acme, "key-1", 1, 0)
	equalKey(t, "Key after the input was changed", getKey(t, e.s, acme, "key-1"), want)
	got, err := e.s.KeyByHash(t.Context(), keyHash(1))
	ok(t, err, "KeyByHash")
	equalKey(t, "KeyByHash after the input was changed", got, want)
}

// Results of Key, KeyByHash and Keys share nothing with the store, nor
// with each other: a change to one, even one that appends to its slices
// within their capacity, shows in no other.
func testCopyKeyOut(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-1", 1, 0)), "CreateKey")
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-2", 2, 1)), "CreateKey")
	unchanged := func(what string) {
		t.Helper()
		want1, want2 := apiKey(acme, "key-1", 1, 0), apiKey(acme, "key-2", 2, 1)
		equalKey(t, "Key after changing the result of "+what, getKey(t, e.s, acme, "key-1"), want1)
		got, err := e.s.KeyByHash(ctx, keyHash(1))
		ok(t, err, "KeyByHash")
		equalKey(t, "KeyByHash after changing the result of "+what, got, want1)
		ks := listKeys(t, e.s, acme)
		if len(ks) != 2 {
			t.Fatalf("Keys = %q, want two keys", keyIDs(ks))
		}
		equalKey(t, "Keys[0] after changing the result of "+what, ks[0], want1)
		equalKey(t, "Keys[1] after changing the result of "+what, ks[1], want2)
	}

	scribbleKey(getKey(t, e.s, acme, "key-1"))
	unchanged("Key")
	got, err := e.s.KeyByHash(ctx, keyHash(1))
	ok(t, err, "KeyByHash")
	scribbleKey(got)
	got.Hash[0] ^= 0xff
	unchanged("KeyByHash")
	ks := listKeys(t, e.s, acme)
	for _, k := range ks {
		scribbleKey(k)
	}
	ks[0].Name = "changed"
	unchanged("Keys")

	// Appending to a result's slice does not change another result.
	a := getKey(t, e.s, acme, "key-1")
	b := getKey(t, e.s, acme, "key-1")
	a.Roles = append(a.Roles, "admin")
	a.AllowedIPs = append(a.AllowedIPs[:1], "0.0.0.0/0")
	equalKey(t, "a result after appending to another", b, apiKey(acme, "key-1", 1, 0))
}

func testCopyHopInOut(t *testing.T, e *env) {
	ctx := t.Context()
	h := hop(acme, "hop-1", "", "tok-1", "key-1", 0)
	ok(t, e.s.CreateHop(ctx, h), "CreateHop")
	for i := range h.Caveats {
		h.Caveats[i] = "forged"
	}
	want := hop(acme, "hop-1", "", "tok-1", "key-1", 0)
	equalHop(t, "Hops after the input was changed", listHops(t, e.s, store.HopFilter{Tenant: acme})[0], want)

	got := listHops(t, e.s, store.HopFilter{Tenant: acme})
	for i := range got[0].Caveats {
		got[0].Caveats[i] = "forged"
	}
	got[0].TokenID = "tok-9"
	equalHop(t, "Hops after changing a result", listHops(t, e.s, store.HopFilter{Tenant: acme})[0], want)
}
