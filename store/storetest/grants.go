package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The Grants cases run on stores that implement store.Grants and are
// skipped on the others.

func grantCases() []testCase {
	return []testCase{
		{name: "CreateAndList", run: testGrantCreateAndList},
		{name: "FilterSpelledExactly", run: testGrantFilterSpelledExactly},
		{name: "Conflict", run: testGrantConflict},
		{name: "Use", run: testGrantUse},
		{name: "ApproverKey", run: testGrantApproverKey},
		{name: "MadeUses", run: testGrantMadeUses},
		{name: "ConcurrentUse", run: testGrantConcurrentUse},
		{name: "End", run: testGrantEnd},
		{name: "Read", run: testGrantRead},
		{name: "Copies", run: testGrantCopies},
		{name: "ZeroTimes", run: testGrantZeroTimes},
		{name: "Reopen", reopen: true, run: testGrantReopen},
		{name: "Closed", run: testGrantClosed},
	}
}

// grants returns e.s as store.Grants, or skips t.
func grants(t *testing.T, e *env) store.Grants {
	t.Helper()
	g, isGrants := e.s.(store.Grants)
	if !isGrants {
		t.Skip("storetest: the store is not a store.Grants")
	}
	return g
}

func grant(tenant, id, agent, tool string, uses, created int) store.Grant {
	return store.Grant{
		Tenant: tenant, ID: id, ApprovalID: "apr-" + id, AgentID: agent, OnBehalfOf: "alice",
		Tool: tool, Rule: "big-charges", Resource: "cust-1", Resources: []string{"cust-*", "acct:é/*"},
		Uses: uses, UsesLeft: uses, ExpiresAt: at(created + 3600), CreatedBy: "carol", CreatedByKey: "key_carol", CreatedAt: at(created),
	}
}

func normGrant(g store.Grant) store.Grant {
	if len(g.Resources) == 0 {
		g.Resources = nil
	}
	if len(g.CreatedByCredentials) == 0 {
		g.CreatedByCredentials = nil
	}
	g.ExpiresAt, g.CreatedAt = g.ExpiresAt.UTC(), g.CreatedAt.UTC()
	return g
}

func grantIDs(gs []store.Grant) []string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.ID
	}
	return ids
}

func testGrantCreateAndList(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	g1 := grant(acme, "g1", "bot", "pay", 3, 2)
	g2 := grant(acme, "g2", "bot", "mail", 1, 1)
	g3 := grant(acme, "g3", "other", "pay", 2, 3)
	g3.Resources = nil
	g3.CreatedByKey = "" // an approval of a library caller
	used := grant(acme, "g4", "bot", "pay", 0, 0)
	expired := grant(acme, "g5", "bot", "pay", 5, 0)
	expired.ExpiresAt = at(10)
	for _, g := range []store.Grant{g1, g2, g3, used, expired, grant(globex, "g1", "bot", "pay", 1, 0)} {
		ok(t, s.CreateGrant(ctx, g), "CreateGrant "+g.ID)
	}
	now := at(10)
	all, err := s.Grants(ctx, acme, "", "", now)
	ok(t, err, "Grants")
	equal(t, "live grants of acme, oldest first", grantIDs(all), []string{"g2", "g1", "g3"})
	equal(t, "g1 as stored", normGrant(all[1]), normGrant(g1))
	equal(t, "g3 as stored", normGrant(all[2]), normGrant(g3))
	bot, err := s.Grants(ctx, acme, "bot", "pay", now)
	ok(t, err, "Grants bot pay")
	equal(t, "grants of bot for pay", grantIDs(bot), []string{"g1"})
	none, err := s.Grants(ctx, acme, "bot", "pay", at(2+3600))
	ok(t, err, "Grants at expiry")
	equal(t, "a grant is over at its ExpiresAt", len(none), 0)
}

// Only the empty agent or tool matches any: every other filter matches
// the names it spells, byte for byte. A database that compares the
// filter with the empty string in a PAD SPACE collation (MySQL's and
// MariaDB's utf8mb4_general_ci) read an agent or tool of spaces as
// "any", and listed every agent's grants for it.
func testGrantFilterSpelledExactly(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	ok(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "pay", 3, 0)), "CreateGrant")
	for _, f := range []struct{ agent, tool string }{
		{" ", "pay"}, {"   ", "pay"}, {"bot", " "}, {"bot", "   "}, {" ", " "},
		{"bot ", "pay"}, {"BOT", "pay"}, {"bot", "pay "}, {"bot", "PAY"}, {"\t", "pay"},
	} {
		gs, err := s.Grants(ctx, acme, f.agent, f.tool, at(1))
		ok(t, err, "Grants")
		if len(gs) != 0 {
			t.Errorf("Grants(agent %q, tool %q) = %v, want none: only \"\" matches any", f.agent, f.tool, grantIDs(gs))
		}
	}
	gs, err := s.Grants(ctx, acme, "bot", "pay", at(1))
	ok(t, err, "Grants bot pay")
	equal(t, "grants of bot for pay", grantIDs(gs), []string{"g1"})
}

func testGrantConflict(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	ok(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "pay", 1, 0)), "CreateGrant")
	isErr(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "mail", 9, 0)), store.ErrConflict, "CreateGrant of an id that exists")
	ok(t, s.CreateGrant(ctx, grant(globex, "g1", "bot", "pay", 1, 0)), "the same id in another tenant")
	gs, err := s.Grants(ctx, acme, "", "", at(0))
	ok(t, err, "Grants")
	equal(t, "the refused grant changed nothing", normGrant(gs[0]), normGrant(grant(acme, "g1", "bot", "pay", 1, 0)))
}

func testGrantUse(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	ok(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "pay", 2, 0)), "CreateGrant")
	g, err := s.UseGrant(ctx, acme, "g1", at(1))
	ok(t, err, "first use")
	equal(t, "uses left after the first use", g.UsesLeft, 1)
	equal(t, "the grant used", g.ID, "g1")
	_, err = s.UseGrant(ctx, globex, "g1", at(1))
	isErr(t, err, store.ErrNotFound, "a use from another tenant")
	_, err = s.UseGrant(ctx, acme, "g1", at(3600))
	isErr(t, err, store.ErrNotFound, "a use at ExpiresAt")
	g, err = s.UseGrant(ctx, acme, "g1", at(2))
	ok(t, err, "second use")
	equal(t, "uses left after the second use", g.UsesLeft, 0)
	_, err = s.UseGrant(ctx, acme, "g1", at(3))
	isErr(t, err, store.ErrNotFound, "a use past the last")
	_, err = s.UseGrant(ctx, acme, "nope", at(3))
	isErr(t, err, store.ErrNotFound, "a use of an unknown grant")
	gs, err := s.Grants(ctx, acme, "", "", at(3))
	ok(t, err, "Grants")
	equal(t, "a used-up grant is not listed", len(gs), 0)
}

// A grant keeps the API key its approver decided with, and the token (and
// hops) derived from it that it presented, which the client holds it to
// (revoked, suspended or expired, the grant allows nothing), and "" and
// none for none: listed and used, they come back as created.
func testGrantApproverKey(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	keyed := grant(acme, "g1", "bot", "pay", 2, 0)
	keyed.CreatedByKey = "key_7fbq2xlm"
	keyed.CreatedByCredentials = []string{"tok_7fbq2xlm", "hop_é1"} // a token of that key, and a hop
	bare := grant(acme, "g2", "bot", "pay", 2, 1)
	bare.CreatedByKey = ""
	for _, g := range []store.Grant{keyed, bare} {
		ok(t, s.CreateGrant(ctx, g), "CreateGrant "+g.ID)
	}
	gs, err := s.Grants(ctx, acme, "bot", "pay", at(2))
	ok(t, err, "Grants")
	if len(gs) != 2 {
		t.Fatalf("Grants lists %v, want g1 and g2", grantIDs(gs))
	}
	equal(t, "approver key listed", gs[0].CreatedByKey, keyed.CreatedByKey)
	equal(t, "no approver key listed", gs[1].CreatedByKey, "")
	equal(t, "approver credentials listed", gs[0].CreatedByCredentials, keyed.CreatedByCredentials)
	equal(t, "no approver credentials listed", len(gs[1].CreatedByCredentials), 0)
	used, err := s.UseGrant(ctx, acme, "g1", at(2))
	ok(t, err, "UseGrant")
	equal(t, "approver key of the grant used", used.CreatedByKey, keyed.CreatedByKey)
	equal(t, "approver credentials of the grant used", used.CreatedByCredentials, keyed.CreatedByCredentials)
	used, err = s.UseGrant(ctx, acme, "g2", at(2))
	ok(t, err, "UseGrant")
	equal(t, "no approver key of the grant used", used.CreatedByKey, "")
}

// A grant keeps the uses it was made with beside those it has left, which
// the client holds to the rule's remember_uses as it stands; a use or an
// end changes only the uses left.
func testGrantMadeUses(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	ok(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "pay", 3, 0)), "CreateGrant")
	used, err := s.UseGrant(ctx, acme, "g1", at(1))
	ok(t, err, "UseGrant")
	equal(t, "uses made with, after a use", used.Uses, 3)
	equal(t, "uses left, after a use", used.UsesLeft, 2)
	gs, err := s.Grants(ctx, acme, "bot", "pay", at(1))
	ok(t, err, "Grants")
	if len(gs) != 1 {
		t.Fatalf("Grants lists %v, want g1", grantIDs(gs))
	}
	equal(t, "uses made with, listed", gs[0].Uses, 3)
	equal(t, "uses left, listed", gs[0].UsesLeft, 2)
	old := grant(acme, "g2", "bot", "pay", 4, 1)
	old.Uses = 0 // as stored before grants kept it
	ok(t, s.CreateGrant(ctx, old), "CreateGrant without uses")
	gs, err = s.Grants(ctx, acme, "bot", "pay", at(2))
	ok(t, err, "Grants")
	equal(t, "grants listed", grantIDs(gs), []string{"g1", "g2"})
	equal(t, "no uses made with, listed", gs[1].Uses, 0)
}

// Many callers racing for a grant's uses get exactly as many as it has.
func testGrantConcurrentUse(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	const uses, callers = 10, 40
	ok(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "pay", uses, 0)), "CreateGrant")
	var got atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			_, err := s.UseGrant(ctx, acme, "g1", at(1))
			switch {
			case err == nil:
				got.Add(1)
			case !isErrNotFound(err):
				t.Errorf("UseGrant: %v", err)
			}
		})
	}
	wg.Wait()
	equal(t, "uses taken by racing callers", got.Load(), int64(uses))
}

func isErrNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func testGrantEnd(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	ok(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "pay", 5, 0)), "CreateGrant")
	isErr(t, s.EndGrant(ctx, globex, "g1"), store.ErrNotFound, "EndGrant from another tenant")
	ok(t, s.EndGrant(ctx, acme, "g1"), "EndGrant")
	ok(t, s.EndGrant(ctx, acme, "g1"), "EndGrant again")
	_, err := s.UseGrant(ctx, acme, "g1", at(1))
	isErr(t, err, store.ErrNotFound, "a use of an ended grant")
	isErr(t, s.EndGrant(ctx, acme, "nope"), store.ErrNotFound, "EndGrant of an unknown grant")
}

func testGrantCopies(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	g := grant(acme, "g1", "bot", "pay", 5, 0)
	ok(t, s.CreateGrant(ctx, g), "CreateGrant")
	g.Resources[0] = "changed"
	gs, err := s.Grants(ctx, acme, "", "", at(0))
	ok(t, err, "Grants")
	gs[0].Resources[1] = "changed too"
	again, err := s.Grants(ctx, acme, "", "", at(0))
	ok(t, err, "Grants")
	equal(t, "stored resources", again[0].Resources, []string{"cust-*", "acct:é/*"})
}

func testGrantReopen(t *testing.T, e *env) {
	s := grants(t, e)
	ctx := t.Context()
	ok(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "pay", 3, 0)), "CreateGrant")
	_, err := s.UseGrant(ctx, acme, "g1", at(1))
	ok(t, err, "UseGrant")
	e.reopen(t)
	s = grants(t, e)
	gs, err := s.Grants(ctx, acme, "", "", at(1))
	ok(t, err, "Grants after reopening")
	want := grant(acme, "g1", "bot", "pay", 3, 0)
	want.UsesLeft = 2
	if len(gs) != 1 {
		t.Fatalf("grants after reopening: %v", grantIDs(gs))
	}
	equal(t, "the grant after reopening", normGrant(gs[0]), normGrant(want))
}

func testGrantClosed(t *testing.T, e *env) {
	s := grants(t, e)
	ok(t, e.s.Close(), "Close")
	ctx := context.Background()
	isErr(t, s.CreateGrant(ctx, grant(acme, "g1", "bot", "pay", 1, 0)), store.ErrClosed, "CreateGrant after Close")
	_, err := s.Grants(ctx, acme, "", "", at(0))
	isErr(t, err, store.ErrClosed, "Grants after Close")
	_, err = s.UseGrant(ctx, acme, "g1", at(0))
	isErr(t, err, store.ErrClosed, "UseGrant after Close")
	isErr(t, s.EndGrant(ctx, acme, "g1"), store.ErrClosed, "EndGrant after Close")
}

// A grant with a zero ExpiresAt never allows: a store that can hold the
// zero time lists and uses it at no time, one that cannot refuses it with
// ErrInvalid rather than store another time (MySQL had stored the Unix
// epoch, which a clock before 1970 reads as not yet passed, and a zero
// CreatedAt as 1970 too). A grant listed comes back with its times as
// created.
func testGrantZeroTimes(t *testing.T, e *env) {
	g := grants(t, e)
	ctx := t.Context()
	zeroExp := grant(acme, "zero-exp", "agent-1", "tool-1", 1, 0)
	zeroExp.ExpiresAt = time.Time{}
	zeroCreated := grant(acme, "zero-created", "agent-1", "tool-1", 1, 0)
	zeroCreated.CreatedAt = time.Time{}
	created := map[string]store.Grant{}
	for _, gr := range []store.Grant{zeroExp, zeroCreated} {
		if err := g.CreateGrant(ctx, gr); err != nil {
			isErr(t, err, store.ErrInvalid, "CreateGrant of "+gr.ID)
			continue
		}
		created[gr.ID] = gr
	}
	for _, now := range []time.Time{time.Unix(-3600, 0), time.Unix(0, 0), at(0)} {
		gs, err := g.Grants(ctx, acme, "agent-1", "tool-1", now)
		ok(t, err, "Grants")
		for _, got := range gs {
			want, isCreated := created[got.ID]
			switch {
			case !isCreated:
				t.Errorf("Grants at %v lists %s, which the store refused", now, got.ID)
			case got.ID == zeroExp.ID:
				t.Errorf("Grants at %v lists a grant with a zero expiry (stored as expiring %v)", now, got.ExpiresAt)
			default:
				equal(t, "grant listed at "+now.String(), normGrant(got), normGrant(want))
			}
		}
		if _, err := g.UseGrant(ctx, acme, zeroExp.ID, now); err == nil {
			t.Errorf("UseGrant at %v used a grant with a zero expiry", now)
		}
	}
}

// A store.GrantReader reads a grant by id whatever uses it has left and
// whenever it expires, in its own tenant only; an unknown id is
// ErrNotFound.
func testGrantRead(t *testing.T, e *env) {
	s := grants(t, e)
	r, isReader := e.s.(store.GrantReader)
	if !isReader {
		t.Skip("storetest: the store is not a store.GrantReader")
	}
	ctx := t.Context()
	g := grant(acme, "g1", "bot", "pay", 1, 2)
	g.CreatedByCredentials = []string{"tok_carol"}
	ok(t, s.CreateGrant(ctx, g), "CreateGrant")
	got, err := r.Grant(ctx, acme, "g1")
	ok(t, err, "Grant")
	equal(t, "Grant", normGrant(got), normGrant(g))
	_, err = s.UseGrant(ctx, acme, "g1", at(3))
	ok(t, err, "UseGrant")
	got, err = r.Grant(ctx, acme, "g1")
	ok(t, err, "Grant of a used-up grant")
	equal(t, "uses left of a used-up grant", got.UsesLeft, 0)
	equal(t, "id of a used-up grant", got.ID, "g1")
	_, err = r.Grant(ctx, acme, "nope")
	isErr(t, err, store.ErrNotFound, "Grant of an unknown id")
	_, err = r.Grant(ctx, globex, "g1")
	isErr(t, err, store.ErrNotFound, "Grant of another tenant's id")
}
