package storetest

import (
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

func auditCases() []testCase {
	return []testCase{
		{name: "Empty", run: testAuditEmpty},
		{name: "AppendKeepsOrder", run: testAuditAppendKeepsOrder},
		{name: "FirstSeqIsOne", run: testAuditFirstSeqIsOne},
		{name: "RefusesBrokenSequence", run: testAuditRefusesBrokenSequence},
		{name: "EmptyBatch", run: testAuditEmptyBatch},
		{name: "Query", run: testAuditQuery},
	}
}

func testAuditEmpty(t *testing.T, e *env) {
	_, err := e.s.AuditHead(t.Context())
	isErr(t, err, store.ErrNotFound, "AuditHead of an empty trail")
	if recs := queryAudit(t, e.s, store.AuditQuery{}); len(recs) != 0 {
		t.Fatalf("QueryAudit of an empty trail: %d records", len(recs))
	}
}

func testAuditAppendKeepsOrder(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, records(1, 3)), "AppendAudit 1-3")
	ok(t, e.s.AppendAudit(ctx, records(4, 4)), "AppendAudit 4")
	ok(t, e.s.AppendAudit(ctx, records(5, 7)), "AppendAudit 5-7")

	equalRecords(t, "QueryAudit", queryAudit(t, e.s, store.AuditQuery{}), records(1, 7))
	head, err := e.s.AuditHead(ctx)
	ok(t, err, "AuditHead")
	equalRecords(t, "AuditHead", []store.AuditRecord{head}, records(7, 7))
}

func testAuditFirstSeqIsOne(t *testing.T, e *env) {
	ctx := t.Context()
	isErr(t, e.s.AppendAudit(ctx, records(0, 1)), store.ErrConflict, "AppendAudit from Seq 0")
	isErr(t, e.s.AppendAudit(ctx, records(2, 3)), store.ErrConflict, "AppendAudit from Seq 2")
	_, err := e.s.AuditHead(ctx)
	isErr(t, err, store.ErrNotFound, "AuditHead after refused batches")
	ok(t, e.s.AppendAudit(ctx, records(1, 1)), "AppendAudit from Seq 1")
}

func testAuditRefusesBrokenSequence(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, records(1, 3)), "AppendAudit")
	broken := []struct {
		name  string
		batch []store.AuditRecord
	}{
		{"gap", records(5, 6)},
		{"repeat of the head", records(3, 4)},
		{"rewrite of the past", records(1, 2)},
		{"gap inside the batch", []store.AuditRecord{record(4), record(6)}},
		{"repeat inside the batch", []store.AuditRecord{record(4), record(5), record(5)}},
		{"reorder inside the batch", []store.AuditRecord{record(5), record(4)}},
	}
	for _, b := range broken {
		isErr(t, e.s.AppendAudit(ctx, b.batch), store.ErrConflict, "AppendAudit with a "+b.name)
		equalRecords(t, "trail after a "+b.name, queryAudit(t, e.s, store.AuditQuery{}), records(1, 3))
	}
	ok(t, e.s.AppendAudit(ctx, records(4, 5)), "AppendAudit continuing the sequence")
}

func testAuditEmptyBatch(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, nil), "AppendAudit(nil) on an empty trail")
	ok(t, e.s.AppendAudit(ctx, records(1, 2)), "AppendAudit")
	ok(t, e.s.AppendAudit(ctx, []store.AuditRecord{}), "AppendAudit of an empty batch")
	equalRecords(t, "QueryAudit", queryAudit(t, e.s, store.AuditQuery{}), records(1, 2))
}

func testAuditQuery(t *testing.T, e *env) {
	recs := []store.AuditRecord{
		auditRow(1, acme, "agent-1", "read", store.Allow),
		auditRow(2, acme, "agent-2", "write", store.Deny),
		auditRow(3, globex, "agent-1", "read", store.Allow),
		auditRow(4, acme, "agent-1", "write", store.NeedsApproval),
		auditRow(5, acme, "agent-1", "read", store.Deny),
		auditRow(6, globex, "agent-3", "delete", store.Deny),
	}
	ok(t, e.s.AppendAudit(t.Context(), recs), "AppendAudit")
	equalRecords(t, "QueryAudit{}", queryAudit(t, e.s, store.AuditQuery{}), recs)

	allow, deny, needs := store.Allow, store.Deny, store.NeedsApproval
	tests := []struct {
		name string
		q    store.AuditQuery
		want []uint64
	}{
		{"tenant", store.AuditQuery{Tenant: acme}, []uint64{1, 2, 4, 5}},
		{"agent", store.AuditQuery{AgentID: "agent-1"}, []uint64{1, 3, 4, 5}},
		{"tool", store.AuditQuery{Tool: "read"}, []uint64{1, 3, 5}},
		{"effect allow", store.AuditQuery{Effect: &allow}, []uint64{1, 3}},
		{"effect deny", store.AuditQuery{Effect: &deny}, []uint64{2, 5, 6}},
		{"effect needs approval", store.AuditQuery{Effect: &needs}, []uint64{4}},
		{"since is inclusive", store.AuditQuery{Since: at(30)}, []uint64{3, 4, 5, 6}},
		{"until is exclusive", store.AuditQuery{Until: at(30)}, []uint64{1, 2}},
		{"time range", store.AuditQuery{Since: at(20), Until: at(50)}, []uint64{2, 3, 4}},
		{"decision id", store.AuditQuery{DecisionID: decisionID(4)}, []uint64{4}},
		{"after seq", store.AuditQuery{AfterSeq: 4}, []uint64{5, 6}},
		{"limit", store.AuditQuery{Limit: 2}, []uint64{1, 2}},
		{"page", store.AuditQuery{Tenant: acme, AfterSeq: 2, Limit: 2}, []uint64{4, 5}},
		{"all fields", store.AuditQuery{Tenant: acme, AgentID: "agent-1", Tool: "read", Effect: &deny, Since: at(50), Until: at(51)}, []uint64{5}},
		{"no tenant match", store.AuditQuery{Tenant: "initech"}, nil},
		{"no decision id match", store.AuditQuery{DecisionID: decisionID(99)}, nil},
		{"after the head", store.AuditQuery{AfterSeq: 6}, nil},
		{"after the largest seq", store.AuditQuery{AfterSeq: ^uint64(0)}, nil},
	}
	for _, tt := range tests {
		got := queryAudit(t, e.s, tt.q)
		if fmt.Sprint(seqs(got)) != fmt.Sprint(uint64s(tt.want)) {
			t.Errorf("QueryAudit %s: seq %v, want %v", tt.name, seqs(got), uint64s(tt.want))
		}
	}
}

// auditRow returns record seq at seq*10 seconds with the given fields.
func auditRow(seq uint64, tenant, agent, tool string, effect store.Effect) store.AuditRecord {
	r := record(seq)
	r.Time = at(int(seq) * 10)
	r.Tenant = tenant
	r.AgentID = agent
	r.Tool = tool
	r.Effect = effect
	return r
}

func uint64s(v []uint64) []uint64 {
	if v == nil {
		return []uint64{}
	}
	return v
}
