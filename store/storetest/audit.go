package storetest

import (
	"fmt"
	"math"
	"slices"
	"strings"
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
		{name: "ChainsInterleaved", run: testAuditChainsInterleaved},
		{name: "ChainsRefuseGapsAndMixes", run: testAuditChainsRefuseGapsAndMixes},
		{name: "ChainOrder", run: testAuditChainOrder},
		{name: "ChainPaging", run: testAuditChainPaging},
		{name: "QueryChain", run: testAuditQueryChain},
		{name: "VouchedBy", run: testAuditVouchedBy},
		{name: "RequestID", run: testAuditRequestID},
		{name: "Shadow", run: testAuditShadow},
	}
}

func testAuditEmpty(t *testing.T, e *env) {
	_, err := e.s.AuditHead(t.Context(), alpha)
	isErr(t, err, store.ErrNotFound, "AuditHead of an empty trail")
	if recs := queryAudit(t, e.s, store.AuditQuery{}); len(recs) != 0 {
		t.Fatalf("QueryAudit of an empty trail: %d records", len(recs))
	}
	if recs := queryAudit(t, e.s, store.AuditQuery{Chain: alpha}); len(recs) != 0 {
		t.Fatalf("QueryAudit of an empty chain: %d records", len(recs))
	}
}

func testAuditAppendKeepsOrder(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, records(1, 3)), "AppendAudit 1-3")
	ok(t, e.s.AppendAudit(ctx, records(4, 4)), "AppendAudit 4")
	ok(t, e.s.AppendAudit(ctx, records(5, 7)), "AppendAudit 5-7")

	equalRecords(t, "QueryAudit", queryAudit(t, e.s, store.AuditQuery{}), records(1, 7))
	equalRecords(t, "AuditHead", []store.AuditRecord{auditHead(t, e.s, alpha)}, records(7, 7))
}

func testAuditFirstSeqIsOne(t *testing.T, e *env) {
	ctx := t.Context()
	isErr(t, e.s.AppendAudit(ctx, records(0, 1)), store.ErrConflict, "AppendAudit from Seq 0")
	isErr(t, e.s.AppendAudit(ctx, records(2, 3)), store.ErrConflict, "AppendAudit from Seq 2")
	_, err := e.s.AuditHead(ctx, alpha)
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
		{"decision id", store.AuditQuery{DecisionID: recordID(alpha, 4)}, []uint64{4}},
		{"chain", store.AuditQuery{Chain: alpha}, []uint64{1, 2, 3, 4, 5, 6}},
		{"after seq in chain", store.AuditQuery{Chain: alpha, AfterSeq: 4}, []uint64{5, 6}},
		{"after position", store.AuditQuery{AfterChain: alpha, AfterSeq: 4}, []uint64{5, 6}},
		{"limit", store.AuditQuery{Limit: 2}, []uint64{1, 2}},
		{"page", store.AuditQuery{Tenant: acme, AfterChain: alpha, AfterSeq: 2, Limit: 2}, []uint64{4, 5}},
		{"all fields", store.AuditQuery{Chain: alpha, Tenant: acme, AgentID: "agent-1", Tool: "read", Effect: &deny, Since: at(50), Until: at(51)}, []uint64{5}},
		{"no tenant match", store.AuditQuery{Tenant: "initech"}, nil},
		{"no chain match", store.AuditQuery{Chain: bravo}, nil},
		{"no decision id match", store.AuditQuery{DecisionID: recordID(alpha, 99)}, nil},
		{"decision id of another chain", store.AuditQuery{DecisionID: recordID(bravo, 4)}, nil},
		{"after the head", store.AuditQuery{Chain: alpha, AfterSeq: 6}, nil},
		{"after the largest seq", store.AuditQuery{Chain: alpha, AfterSeq: math.MaxUint64}, nil},
	}
	for _, tt := range tests {
		got := queryAudit(t, e.s, tt.q)
		if fmt.Sprint(seqs(got)) != fmt.Sprint(uint64s(tt.want)) {
			t.Errorf("QueryAudit %s: seq %v, want %v", tt.name, seqs(got), uint64s(tt.want))
		}
	}
}

// Two writers share a store, each on its own chain: each chain starts at
// Seq 1 and continues from its own head, however the batches interleave.
func testAuditChainsInterleaved(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 1, 2)), "AppendAudit alpha 1-2")
	ok(t, e.s.AppendAudit(ctx, chainRecords(bravo, 1, 1)), "AppendAudit bravo 1, a new chain")
	equalRecords(t, "AuditHead alpha", []store.AuditRecord{auditHead(t, e.s, alpha)}, chainRecords(alpha, 2, 2))
	equalRecords(t, "AuditHead bravo", []store.AuditRecord{auditHead(t, e.s, bravo)}, chainRecords(bravo, 1, 1))
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 3, 3)), "AppendAudit alpha 3")
	ok(t, e.s.AppendAudit(ctx, chainRecords(bravo, 2, 4)), "AppendAudit bravo 2-4")
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 4, 4)), "AppendAudit alpha 4")

	equalRecords(t, "AuditHead alpha", []store.AuditRecord{auditHead(t, e.s, alpha)}, chainRecords(alpha, 4, 4))
	equalRecords(t, "AuditHead bravo", []store.AuditRecord{auditHead(t, e.s, bravo)}, chainRecords(bravo, 4, 4))
	_, err := e.s.AuditHead(ctx, charlie)
	isErr(t, err, store.ErrNotFound, "AuditHead of a chain without records")

	equalRecords(t, "QueryAudit{Chain: alpha}", queryAudit(t, e.s, store.AuditQuery{Chain: alpha}), chainRecords(alpha, 1, 4))
	equalRecords(t, "QueryAudit{Chain: bravo}", queryAudit(t, e.s, store.AuditQuery{Chain: bravo}), chainRecords(bravo, 1, 4))
	equalRecords(t, "QueryAudit{}", queryAudit(t, e.s, store.AuditQuery{}),
		slices.Concat(chainRecords(alpha, 1, 4), chainRecords(bravo, 1, 4)))
}

// A batch holds one chain's records continuing that chain: anything else
// is refused whole, and the chains are left as they were.
func testAuditChainsRefuseGapsAndMixes(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 1, 2)), "AppendAudit alpha 1-2")
	ok(t, e.s.AppendAudit(ctx, chainRecords(bravo, 1, 1)), "AppendAudit bravo 1")
	want := slices.Concat(chainRecords(alpha, 1, 2), chainRecords(bravo, 1, 1))

	broken := []struct {
		name  string
		batch []store.AuditRecord
	}{
		{"gap in a chain", chainRecords(bravo, 3, 3)},
		{"seq continuing another chain", chainRecords(bravo, 3, 4)},
		{"repeat of a chain's head", chainRecords(bravo, 1, 1)},
		{"new chain not starting at 1", chainRecords(charlie, 2, 3)},
		{"new chain starting at 0", chainRecords(charlie, 0, 1)},
		{"mix of two chains, each continued", []store.AuditRecord{chainRecord(alpha, 3), chainRecord(bravo, 2)}},
		{"mix of two chains, other order", []store.AuditRecord{chainRecord(bravo, 2), chainRecord(alpha, 3)}},
		{"mix with a new chain", []store.AuditRecord{chainRecord(alpha, 3), chainRecord(charlie, 1)}},
		{"record of another chain at the end", []store.AuditRecord{chainRecord(alpha, 3), chainRecord(alpha, 4), chainRecord(bravo, 5)}},
	}
	for _, b := range broken {
		isErr(t, e.s.AppendAudit(ctx, b.batch), store.ErrConflict, "AppendAudit with a "+b.name)
		equalRecords(t, "trail after a "+b.name, queryAudit(t, e.s, store.AuditQuery{}), want)
	}
	equalRecords(t, "AuditHead alpha", []store.AuditRecord{auditHead(t, e.s, alpha)}, chainRecords(alpha, 2, 2))
	equalRecords(t, "AuditHead bravo", []store.AuditRecord{auditHead(t, e.s, bravo)}, chainRecords(bravo, 1, 1))
	_, err := e.s.AuditHead(ctx, charlie)
	isErr(t, err, store.ErrNotFound, "AuditHead of a chain whose batches were refused")

	ok(t, e.s.AppendAudit(ctx, chainRecords(bravo, 2, 3)), "AppendAudit bravo 2-3")
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 3, 3)), "AppendAudit alpha 3")
	ok(t, e.s.AppendAudit(ctx, chainRecords(charlie, 1, 1)), "AppendAudit charlie 1")
}

// Records come ordered by (Chain, Seq), whatever order the chains were
// written in.
func testAuditChainOrder(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, chainRecords(charlie, 1, 2)), "AppendAudit charlie 1-2")
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 1, 1)), "AppendAudit alpha 1")
	ok(t, e.s.AppendAudit(ctx, chainRecords(bravo, 1, 2)), "AppendAudit bravo 1-2")
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 2, 3)), "AppendAudit alpha 2-3")
	ok(t, e.s.AppendAudit(ctx, chainRecords(charlie, 3, 3)), "AppendAudit charlie 3")

	want := slices.Concat(chainRecords(alpha, 1, 3), chainRecords(bravo, 1, 2), chainRecords(charlie, 1, 3))
	equalRecords(t, "QueryAudit{}", queryAudit(t, e.s, store.AuditQuery{}), want)
	equalKeys(t, "QueryAudit{Tool}", positions(queryAudit(t, e.s, store.AuditQuery{Tool: "files.read"})), positions(want))
}

// Paging with (AfterChain, AfterSeq) from the last record of each page
// visits every record once, in (Chain, Seq) order.
func testAuditChainPaging(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.AppendAudit(ctx, chainRecords(bravo, 1, 2)), "AppendAudit bravo")
	ok(t, e.s.AppendAudit(ctx, chainRecords(alpha, 1, 3)), "AppendAudit alpha")
	ok(t, e.s.AppendAudit(ctx, chainRecords(charlie, 1, 2)), "AppendAudit charlie")

	var pages [][]string
	q := store.AuditQuery{Limit: 2}
	for range 10 {
		page := queryAudit(t, e.s, q)
		pages = append(pages, positions(page))
		if len(page) == 0 {
			break
		}
		last := page[len(page)-1]
		q.AfterChain, q.AfterSeq = last.Chain, last.Seq
	}
	equal(t, "pages", pages, [][]string{
		{"alpha/1", "alpha/2"}, {"alpha/3", "bravo/1"}, {"bravo/2", "charlie/1"}, {"charlie/2"}, {},
	})

	tests := []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		{"after the start of a chain", store.AuditQuery{AfterChain: bravo}, []string{"bravo/1", "bravo/2", "charlie/1", "charlie/2"}},
		{"after a seq", store.AuditQuery{AfterChain: alpha, AfterSeq: 2}, []string{"alpha/3", "bravo/1", "bravo/2", "charlie/1", "charlie/2"}},
		{"after a chain's head", store.AuditQuery{AfterChain: alpha, AfterSeq: 3}, []string{"bravo/1", "bravo/2", "charlie/1", "charlie/2"}},
		{"after the largest seq of a chain", store.AuditQuery{AfterChain: alpha, AfterSeq: math.MaxUint64}, []string{"bravo/1", "bravo/2", "charlie/1", "charlie/2"}},
		{"after a chain without records", store.AuditQuery{AfterChain: "bravos", AfterSeq: 7}, []string{"charlie/1", "charlie/2"}},
		{"after a prefix of a chain", store.AuditQuery{AfterChain: "b", AfterSeq: 7}, []string{"bravo/1", "bravo/2", "charlie/1", "charlie/2"}},
		{"after every chain", store.AuditQuery{AfterChain: "zulu"}, nil},
		{"after the last record", store.AuditQuery{AfterChain: charlie, AfterSeq: 2}, nil},
		{"in a chain", store.AuditQuery{Chain: bravo, AfterSeq: 1}, []string{"bravo/2"}},
		{"in a chain, AfterChain set", store.AuditQuery{Chain: bravo, AfterChain: bravo, AfterSeq: 1}, []string{"bravo/2"}},
		{"in a chain, from the start", store.AuditQuery{Chain: bravo}, []string{"bravo/1", "bravo/2"}},
		{"in a chain, after its head", store.AuditQuery{Chain: bravo, AfterSeq: 2}, nil},
		{"in a chain, limited", store.AuditQuery{Chain: alpha, AfterSeq: 1, Limit: 1}, []string{"alpha/2"}},
		{"with a filter", store.AuditQuery{Tool: "files.read", AfterChain: bravo, AfterSeq: 2, Limit: 1}, []string{"charlie/1"}},
	}
	for _, tt := range tests {
		equalKeys(t, "QueryAudit "+tt.name, positions(queryAudit(t, e.s, tt.q)), tt.want)
	}
}

// Filters apply within and across chains.
func testAuditQueryChain(t *testing.T, e *env) {
	ctx := t.Context()
	a := chainRecords(alpha, 1, 3)
	b := chainRecords(bravo, 1, 3)
	a[1].Tenant, b[0].Tenant, b[2].Tenant = globex, globex, globex
	ok(t, e.s.AppendAudit(ctx, a), "AppendAudit alpha")
	ok(t, e.s.AppendAudit(ctx, b), "AppendAudit bravo")

	tests := []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		{"tenant", store.AuditQuery{Tenant: globex}, []string{"alpha/2", "bravo/1", "bravo/3"}},
		{"tenant in a chain", store.AuditQuery{Chain: bravo, Tenant: globex}, []string{"bravo/1", "bravo/3"}},
		{"tenant, limited", store.AuditQuery{Tenant: globex, Limit: 2}, []string{"alpha/2", "bravo/1"}},
		{"decision id", store.AuditQuery{DecisionID: recordID(bravo, 2)}, []string{"bravo/2"}},
		{"decision id in another chain", store.AuditQuery{Chain: alpha, DecisionID: recordID(bravo, 2)}, nil},
	}
	for _, tt := range tests {
		equalKeys(t, "QueryAudit "+tt.name, positions(queryAudit(t, e.s, tt.q)), tt.want)
	}
}

// testAuditVouchedBy: who vouched for a check is kept, and a record no
// one vouched for reads back with none.
func testAuditVouchedBy(t *testing.T, e *env) {
	ctx := t.Context()
	recs := records(1, 2)
	recs[0].VouchedBy, recs[1].VouchedBy = "key_0123456789abcdef0123456789abcdef", ""
	ok(t, e.s.AppendAudit(ctx, recs), "AppendAudit")
	got := queryAudit(t, e.s, store.AuditQuery{Chain: alpha})
	if len(got) != 2 || got[0].VouchedBy != recs[0].VouchedBy || got[1].VouchedBy != "" {
		t.Fatalf("QueryAudit: VouchedBy %v, want [%q \"\"]", positions(got), recs[0].VouchedBy)
	}
	equalRecords(t, "QueryAudit", got, recs)
	head := auditHead(t, e.s, alpha)
	if head.VouchedBy != "" {
		t.Errorf("AuditHead: VouchedBy %q, want none", head.VouchedBy)
	}
	one := queryAudit(t, e.s, store.AuditQuery{DecisionID: recs[0].ID})
	if len(one) != 1 || one[0].VouchedBy != recs[0].VouchedBy {
		t.Errorf("QueryAudit by decision: %d records, VouchedBy lost", len(one))
	}
}

// testAuditRequestID: the request id of a check is kept byte for byte
// (the chain's MAC covers it), a record without one reads back with none,
// and queries neither filter on it nor lose it.
func testAuditRequestID(t *testing.T, e *env) {
	ctx := t.Context()
	recs := records(1, 3)
	recs[0].RequestID = "abc-123"
	recs[1].RequestID = ""
	recs[2].RequestID = strings.Repeat("0123456789abcdef", 8) // 128 bytes, the most Check records
	ok(t, e.s.AppendAudit(ctx, recs), "AppendAudit")
	got := queryAudit(t, e.s, store.AuditQuery{Chain: alpha})
	if len(got) != 3 || got[0].RequestID != recs[0].RequestID || got[1].RequestID != "" || got[2].RequestID != recs[2].RequestID {
		t.Fatalf("QueryAudit: %d records, RequestID not kept", len(got))
	}
	equalRecords(t, "QueryAudit", got, recs)
	equalRecords(t, "QueryAudit of the tenant", queryAudit(t, e.s, store.AuditQuery{Tenant: acme}), recs)
	head := auditHead(t, e.s, alpha)
	if head.RequestID != recs[2].RequestID {
		t.Errorf("AuditHead: RequestID %q, want %q", head.RequestID, recs[2].RequestID)
	}
	one := queryAudit(t, e.s, store.AuditQuery{DecisionID: recs[0].ID})
	if len(one) != 1 || one[0].RequestID != recs[0].RequestID {
		t.Errorf("QueryAudit by decision: %d records, RequestID lost", len(one))
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

// testAuditShadow: what a shadow policy decided instead is kept byte for
// byte (the chain's MAC covers it), a record without it reads back
// without it, from a query and from the head.
func testAuditShadow(t *testing.T, e *env) {
	ctx := t.Context()
	recs := records(1, 3)
	recs[0].ShadowEffect, recs[0].ShadowRule = "needs_approval", "big-charges"
	recs[2].ShadowEffect = "error"
	ok(t, e.s.AppendAudit(ctx, recs), "AppendAudit")
	got := queryAudit(t, e.s, store.AuditQuery{Chain: alpha})
	if len(got) != 3 {
		t.Fatalf("QueryAudit: %d records", len(got))
	}
	for i := range got {
		if got[i].ShadowEffect != recs[i].ShadowEffect || got[i].ShadowRule != recs[i].ShadowRule {
			t.Errorf("record %d: shadow %q %q, want %q %q", i, got[i].ShadowEffect, got[i].ShadowRule, recs[i].ShadowEffect, recs[i].ShadowRule)
		}
	}
	equalRecords(t, "QueryAudit", got, recs)
	if head := auditHead(t, e.s, alpha); head.ShadowEffect != "error" || head.ShadowRule != "" {
		t.Errorf("AuditHead: shadow %q %q", head.ShadowEffect, head.ShadowRule)
	}
}
