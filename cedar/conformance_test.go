package cedar_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// conformanceRow is one request and the decision both engines must give.
type conformanceRow struct {
	name string
	in   agenttrust.PolicyInput
	want agenttrust.Effect
	rule string // "" for the default deny
	// unevaluable: the deciding rule cannot be evaluated; both engines
	// deny naming it, with an error matching agenttrust.ErrUnevaluable.
	unevaluable bool
}

var (
	deny    = agenttrust.Deny
	allow   = agenttrust.Allow
	approve = agenttrust.NeedsApproval
)

// req builds a request of tenant acme; attrs alternate names and values.
func req(agent, tool, resource string, attrs ...any) agenttrust.PolicyInput {
	in := agenttrust.PolicyInput{Tenant: "acme", AgentID: agent, Tool: tool, Resource: resource,
		Time: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	if len(attrs) > 0 {
		in.Attributes = map[string]any{}
		for i := 0; i+1 < len(attrs); i += 2 {
			in.Attributes[attrs[i].(string)] = attrs[i+1]
		}
	}
	return in
}

func with(in agenttrust.PolicyInput, f func(*agenttrust.PolicyInput)) agenttrust.PolicyInput {
	f(&in)
	return in
}

func conformanceRows() []conformanceRow {
	session := func(s string) func(*agenttrust.PolicyInput) {
		return func(in *agenttrust.PolicyInput) { in.SessionID = s }
	}
	obo := func(s string) func(*agenttrust.PolicyInput) {
		return func(in *agenttrust.PolicyInput) { in.OnBehalfOf = s }
	}
	ip := func(s string) func(*agenttrust.PolicyInput) {
		return func(in *agenttrust.PolicyInput) { in.RemoteAddr = netip.MustParseAddr(s) }
	}
	tenant := func(s string) func(*agenttrust.PolicyInput) {
		return func(in *agenttrust.PolicyInput) { in.Tenant = s }
	}
	hops := func(h ...string) func(*agenttrust.PolicyInput) {
		return func(in *agenttrust.PolicyInput) { in.HopIDs = h }
	}
	return []conformanceRow{
		// Deny precedence and agent globs.
		{"rogue agent searching", req("rogue-1", "search.web", "q"), deny, "block-rogue", false},
		{"rogue agent beats an allow", req("rogue-billing", "payments.charge", "cust-1", "amount", 10, "currency", "EUR"), deny, "block-rogue", false},
		{"first deny beats a later deny", req("rogue-2", "payments.charge", "cust-1", "amount", 20000), deny, "block-rogue", false},
		{"matching deny beats a later unevaluable deny", req("rogue-3", "payments.charge", "cust-1"), deny, "block-rogue", false},
		{"rogue prefix only", req("not-rogue", "search.web", "q"), allow, "search-anything", false},
		// Conditions on numbers, in-lists and agent lists.
		{"small charge EUR", req("billing-bot", "payments.charge", "cust-1", "amount", 40, "currency", "EUR"), allow, "small-charges", false},
		{"small charge USD", req("billing-bot", "payments.charge", "cust-1", "amount", 40, "currency", "USD"), allow, "small-charges", false},
		{"currency not in list", req("billing-bot", "payments.charge", "cust-1", "amount", 40, "currency", "GBP"), deny, "", false},
		{"amount at the bound", req("billing-bot", "payments.charge", "cust-1", "amount", 50, "currency", "EUR"), allow, "small-charges", false},
		{"second agent of the list", req("billing-helper", "payments.charge", "cust-1", "amount", int64(20), "currency", "USD"), allow, "small-charges", false},
		{"agent not in the list", req("billing-other", "payments.charge", "cust-1", "amount", 20, "currency", "USD"), deny, "", false},
		{"uint8 amount", req("billing-bot", "payments.charge", "cust-1", "amount", uint8(7), "currency", "EUR"), allow, "small-charges", false},
		{"integral float amount", req("billing-bot", "payments.charge", "cust-1", "amount", 12.0, "currency", "EUR"), allow, "small-charges", false},
		{"json.Number amount", req("billing-bot", "payments.charge", "cust-1", "amount", json.Number("49"), "currency", "EUR"), allow, "small-charges", false},
		// needs_approval and its precedence.
		{"charge over 50 needs approval", req("billing-bot", "payments.charge", "cust-1", "amount", 51, "currency", "EUR"), approve, "charge-approval", false},
		{"needs approval beats allow list", req("billing-other", "payments.charge", "cust-1", "amount", 200), approve, "charge-approval", false},
		{"deny beats needs approval", req("billing-bot", "payments.charge", "cust-1", "amount", 20000, "currency", "EUR"), deny, "big-charges-deny", false},
		{"deny at its bound", req("billing-bot", "payments.charge", "cust-1", "amount", 10001), deny, "big-charges-deny", false},
		{"approval just under deny", req("billing-bot", "payments.charge", "cust-1", "amount", 10000), approve, "charge-approval", false},
		{"approval needs the agent glob", req("payer", "payments.charge", "cust-1", "amount", 200), deny, "", false},
		// Missing attributes and wrong types: the same fail-closed outcome.
		{"missing amount: deny rule unevaluable", req("billing-bot", "payments.charge", "cust-1", "currency", "EUR"), deny, "big-charges-deny", true},
		{"string amount: deny rule unevaluable", req("billing-bot", "payments.charge", "cust-1", "amount", "40", "currency", "EUR"), deny, "big-charges-deny", true},
		{"bool amount: deny rule unevaluable", req("billing-bot", "payments.charge", "cust-1", "amount", true), deny, "big-charges-deny", true},
		{"nested amount: deny rule unevaluable", req("billing-bot", "payments.charge", "cust-1", "amount", map[string]any{"v": 1}), deny, "big-charges-deny", true},
		{"missing currency: allow rule does not match", req("billing-bot", "payments.charge", "cust-1", "amount", 40), deny, "", false},
		{"numeric currency: allow rule does not match", req("billing-bot", "payments.charge", "cust-1", "amount", 40, "currency", 978), deny, "", false},
		{"false condition first, then unknown: no match", req("billing-bot", "payments.charge", "cust-1", "amount", 60, "currency", 978), approve, "charge-approval", false},
		// Resource globs: '*' within a segment, '**' across.
		{"mailbox segment", req("mail-bot", "mail.read", "mailbox:alice/inbox"), allow, "mail-read-own", false},
		{"second tool of the list", req("mail-bot", "mail.list", "mailbox:alice/inbox"), allow, "mail-read-own", false},
		{"mailbox two segments down", req("mail-bot", "mail.read", "mailbox:alice/inbox/2024"), deny, "", false},
		{"other mailbox", req("mail-bot", "mail.read", "mailbox:bob/inbox"), deny, "", false},
		{"archive any depth", req("mail-bot", "mail.read", "archive:alice/2024/01/02"), allow, "mail-archive", false},
		{"archive one level", req("mail-bot", "mail.read", "archive:alice/2024"), allow, "mail-archive", false},
		{"archive with a tool not listed", req("mail-bot", "mail.list", "archive:alice/2024"), deny, "", false},
		{"tool not in any list", req("mail-bot", "mail.send", "mailbox:alice/inbox"), deny, "", false},
		{"agent glob does not match", req("other-bot", "mail.read", "mailbox:alice/inbox"), deny, "", false},
		{"deny on resource glob", req("ops", "db.delete", "db:prod/users"), deny, "no-deletes-on-prod", false},
		{"deny on resource glob, deep", req("ops", "db.delete", "db:prod/users/42"), deny, "no-deletes-on-prod", false},
		{"resource outside the deny glob", req("ops", "db.delete", "db:staging/users"), deny, "", false},
		{"single-segment file", req("reader", "files.read", "file:report"), allow, "files-read", false},
		{"file one segment too deep", req("reader", "files.read", "file:a/b"), deny, "", false},
		// Tool globs: '*' crosses dots, like Cedar's like.
		{"tool glob", req("anyone", "search.web", "q"), allow, "search-anything", false},
		{"tool glob, deeper", req("anyone", "search.docs.deep", "q"), allow, "search-anything", false},
		{"tool glob needs the dot", req("anyone", "searchweb", "q"), deny, "", false},
		// Two rules on one tool, by attribute.
		{"small export", req("etl", "data.export", "t", "rows", 10), allow, "export-small", false},
		{"export at the approval bound", req("etl", "data.export", "t", "rows", 1000), approve, "export-needs-approval", false},
		{"export just under", req("etl", "data.export", "t", "rows", 999), allow, "export-small", false},
		{"export json.Number", req("etl", "data.export", "t", "rows", json.Number("2000")), approve, "export-needs-approval", false},
		{"export without rows: approval rule unevaluable", req("etl", "data.export", "t"), deny, "export-needs-approval", true},
		{"export with string rows", req("etl", "data.export", "t", "rows", "many"), deny, "export-needs-approval", true},
		// Session, on-behalf-of, optional attributes.
		{"session matches", with(req("cal", "calendar.write", "c"), session("s-1")), allow, "session-bound", false},
		{"other session", with(req("cal", "calendar.write", "c"), session("s-2")), deny, "", false},
		{"no session", req("cal", "calendar.write", "c"), deny, "", false},
		{"flagged", with(req("cal", "calendar.write", "c", "flagged", true), session("s-1")), deny, "flagged-deny", false},
		{"not flagged", with(req("cal", "calendar.write", "c", "flagged", false), session("s-1")), allow, "session-bound", false},
		{"flag of the wrong type", with(req("cal", "calendar.write", "c", "flagged", "yes"), session("s-1")), deny, "flagged-deny", true},
		{"on behalf of alice", with(req("cal", "calendar.read", "c"), obo("alice")), allow, "obo-alice", false},
		{"on behalf of bob", with(req("cal", "calendar.read", "c"), obo("bob")), allow, "obo-alice", false},
		{"on behalf of carol", with(req("cal", "calendar.read", "c"), obo("carol")), deny, "", false},
		{"on behalf of nobody", req("cal", "calendar.read", "c"), deny, "", false},
		{"note without label", req("w", "notes.write", "n"), allow, "notes-ok", false},
		{"secret label", req("w", "notes.write", "n", "label", "secret"), deny, "optional-note", false},
		{"public label", req("w", "notes.write", "n", "label", "public"), allow, "notes-ok", false},
		{"numeric label", req("w", "notes.write", "n", "label", 7), deny, "optional-note", true},
		// Address, tenant, hops.
		{"internal address", with(req("ops", "admin.read", "x"), ip("10.1.2.3")), allow, "internal-only", false},
		{"mapped internal address", with(req("ops", "admin.read", "x"), ip("::ffff:10.1.2.3")), allow, "internal-only", false},
		{"external address", with(req("ops", "admin.read", "x"), ip("192.168.1.1")), deny, "", false},
		{"no address", req("ops", "admin.read", "x"), deny, "", false},
		{"tenant acme", req("fin", "billing.report", "r"), allow, "tenant-acme", false},
		{"tenant globex", with(req("fin", "billing.report", "r"), tenant("globex")), deny, "", false},
		{"revoked hop", with(req("reader", "files.read", "file:report"), hops("hop-1", "hop-bad")), deny, "hop-revoked", false},
		{"other hops", with(req("reader", "files.read", "file:report"), hops("hop-1")), allow, "files-read", false},
		// Default deny.
		{"unknown tool", req("anyone", "unknown.tool", "x"), deny, "", false},
		{"empty request", agenttrust.PolicyInput{}, deny, "", false},
	}
}

func loadBoth(tb testing.TB) (builtin, cedarEngine agenttrust.PolicyEngine) {
	tb.Helper()
	p, err := agenttrust.LoadPolicyFile("testdata/conformance.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	builtin, err = agenttrust.NewRuleEngine(p)
	if err != nil {
		tb.Fatal(err)
	}
	ce, err := cedar.LoadFile("testdata/conformance.cedar")
	if err != nil {
		tb.Fatal(err)
	}
	return builtin, ce
}

// TestConformance runs each row through the rule engine and the Cedar
// engine: both must give the row's effect, rule and error kind, and the
// same reason and approvers.
func TestConformance(t *testing.T) {
	builtin, ce := loadBoth(t)
	rows := conformanceRows()
	if len(rows) < 50 {
		t.Fatalf("only %d rows", len(rows))
	}
	ctx := context.Background()
	seen := map[agenttrust.Effect]int{}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			for _, eng := range []struct {
				name string
				e    agenttrust.PolicyEngine
			}{{"builtin", builtin}, {"cedar", ce}} {
				in := row.in
				res, err := eng.e.Evaluate(ctx, &in)
				if res.Effect != row.want || res.Rule != row.rule {
					t.Errorf("%s: effect %v rule %q (err %v), want %v %q", eng.name, res.Effect, res.Rule, err, row.want, row.rule)
				}
				if got := errors.Is(err, agenttrust.ErrUnevaluable); got != row.unevaluable || (err != nil) != row.unevaluable {
					t.Errorf("%s: err %v, want unevaluable %v", eng.name, err, row.unevaluable)
				}
			}
			a, _ := builtin.Evaluate(ctx, &row.in)
			b, _ := ce.Evaluate(ctx, &row.in)
			if a.Reason != b.Reason || !slices.Equal(a.Approvers, b.Approvers) {
				t.Errorf("reason/approvers differ: builtin %q %q, cedar %q %q", a.Reason, a.Approvers, b.Reason, b.Approvers)
			}
			seen[row.want]++
		})
	}
	// The table covers every effect, and each rule of the policy decides
	// at least one row.
	if seen[allow] == 0 || seen[deny] == 0 || seen[approve] == 0 {
		t.Errorf("effects covered: %v", seen)
	}
	p, _ := agenttrust.LoadPolicyFile("testdata/conformance.yaml")
	for _, r := range p.Rules {
		if !slices.ContainsFunc(rows, func(row conformanceRow) bool { return row.rule == r.ID }) {
			t.Errorf("rule %q decides no row", r.ID)
		}
	}
	t.Logf("%d rows, both engines agree", len(rows))
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
