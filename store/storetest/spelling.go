package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The Spelling cases hold every store to Go's own comparison of what it
// is given: a database whose collation or column type folds case, pads or
// trims spaces, normalises accents, cuts at a NUL or truncates a long
// value would find one name under another, or lose part of a name, and
// give another answer to the same question than the memory store does.
// A store may refuse a value it cannot hold exactly (ErrInvalid), and a
// lookup of such a value may fail; it may never find, block, list or
// count anything stored under another spelling.

func spellingCases() []testCase {
	return []testCase{
		{name: "Blocks", run: testSpellingBlocks},
		{name: "BlockedAmongUnstorable", run: testSpellingBlockedAmongUnstorable},
		{name: "Lookups", run: testSpellingLookups},
		{name: "Lists", run: testSpellingLists},
		{name: "Grants", run: testSpellingGrants},
		{name: "RateKeys", run: testSpellingRateKeys},
		{name: "BudgetNames", run: testSpellingBudgetNames},
		{name: "TimeEdges", run: testSpellingTimeEdges},
		{name: "RandomRates", run: testSpellingRandomRates},
	}
}

// spellings are values that some database compares equal to one another
// (or to a prefix of one another) while Go does not: case, trailing and
// lone spaces (MySQL's PAD SPACE collations), NUL (C strings), NFC and
// NFD, fullwidth forms, LIKE wildcards, bytes that are not UTF-8, and
// values longer than the narrowest indexed column of any store.
var spellings = []string{
	"a", "A", "a ", " ", "a\t", "a\x00", "a\x00b", "é", "e\u0301", "ａ",
	"%", "_", "a%", "\\", "\xff", "a\xff",
	strings.Repeat("x", 255), strings.Repeat("x", 256), strings.Repeat("x", 600), strings.Repeat("x", 70000),
}

func showSpelling(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%q... (%d bytes)", s[:8], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// stored reports whether a write of spelling w succeeded; a refusal must
// be ErrInvalid.
func stored(t *testing.T, err error, what, w string) bool {
	t.Helper()
	if err == nil {
		return true
	}
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("%s of %s: %v, want success or an error wrapping %v", what, showSpelling(w), err, store.ErrInvalid)
	}
	return false
}

// Each spelling revoked (as an id) and suspended (as a tenant) on its own
// is blocked by that spelling and by no other.
func testSpellingBlocks(t *testing.T, e *env) {
	ctx := t.Context()
	for i, v := range spellings {
		tenant := fmt.Sprint("spell-", i)
		isStored := stored(t, e.s.Revoke(ctx, store.Block{Tenant: tenant, ID: v, CreatedAt: at(0)}), "Revoke", v)
		for _, w := range spellings {
			b, hit, err := e.s.Blocked(ctx, tenant, []string{w})
			switch {
			case err != nil:
				if w == v && isStored {
					t.Errorf("Blocked(%s) after Revoke(%s): %v", showSpelling(w), showSpelling(v), err)
				}
			case hit != (w == v && isStored):
				t.Errorf("Blocked(%s) after Revoke(%s) = %v (%s), want %v", showSpelling(w), showSpelling(v), hit, showSpelling(b.ID), !hit)
			case hit && b.ID != v:
				t.Errorf("Blocked(%s) names %s, want the revoked id", showSpelling(w), showSpelling(b.ID))
			}
			if w != v && isStored {
				isErrOneOf(t, e.s.Resume(ctx, tenant, w), "Resume("+showSpelling(w)+") of a revocation of "+showSpelling(v), store.ErrNotFound, store.ErrInvalid)
			}
		}
		id := fmt.Sprint("agent-", i)
		isStored = stored(t, e.s.Suspend(ctx, store.Block{Tenant: v, ID: id, CreatedAt: at(0)}), "Suspend in tenant", v)
		for _, w := range spellings {
			_, hit, err := e.s.Blocked(ctx, w, []string{id})
			if err == nil && hit != (w == v && isStored) || err != nil && w == v && isStored {
				t.Errorf("Blocked(%s, %s) after a suspension in tenant %s = %v, %v", showSpelling(w), id, showSpelling(v), hit, err)
			}
		}
	}
}

// A revoked id asked about among ids the store cannot hold is still
// blocked, or the question fails: never "not blocked".
func testSpellingBlockedAmongUnstorable(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.Revoke(ctx, block(acme, "tok-1", 0)), "Revoke")
	for _, w := range spellings {
		for _, ids := range [][]string{{w, "tok-1"}, {"tok-1", w}} {
			b, hit, err := e.s.Blocked(ctx, acme, ids)
			if err == nil && (!hit || b.ID != "tok-1") {
				t.Errorf("Blocked(%q) = %v %s, want tok-1 blocked or an error", ids, hit, showSpelling(b.ID))
			}
		}
	}
}

// Keys, approvals, hops, policies and audit chains stored under each
// spelling are found, listed and queried by that spelling only.
func testSpellingLookups(t *testing.T, e *env) {
	ctx := t.Context()
	keyIn, keyID, apprAgent, fp, hopToken, pol, chain, recAgent := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, v := range spellings {
		keyIn[v] = stored(t, e.s.CreateKey(ctx, apiKey(v, fmt.Sprint("key-t", i), 1000+i, 0)), "CreateKey in tenant", v)
		keyID[v] = stored(t, e.s.CreateKey(ctx, apiKey("keys", v, 2000+i, 0)), "CreateKey with id", v)
		a := pendingApproval("apr", fmt.Sprint("ap-a", i), 3000+i, 0)
		a.AgentID = v
		apprAgent[v] = stored(t, e.s.CreateApproval(ctx, a), "CreateApproval for agent", v)
		a = pendingApproval("apr", fmt.Sprint("ap-f", i), 0, 0)
		a.Fingerprint = v
		fp[v] = stored(t, e.s.CreateApproval(ctx, a), "CreateApproval with fingerprint", v)
		hopToken[v] = stored(t, e.s.CreateHop(ctx, hop("hops", fmt.Sprint("hop-", i), "", v, v, 0)), "CreateHop of token", v)
		_, err := e.s.PutPolicy(ctx, policy(v, fmt.Sprint("body-", i)), 0)
		pol[v] = stored(t, err, "PutPolicy in tenant", v)
		r := chainRecord(v, 1)
		r.ID = decisionID(uint64(4000 + i))
		chain[v] = stored(t, e.s.AppendAudit(ctx, []store.AuditRecord{r}), "AppendAudit to chain", v)
		r = chainRecord(fmt.Sprint("chain-", i), 1)
		r.ID = decisionID(uint64(5000 + i))
		r.Tenant, r.AgentID, r.Tool = v, v, v
		recAgent[v] = stored(t, e.s.AppendAudit(ctx, []store.AuditRecord{r}), "AppendAudit of agent", v)
	}
	// want returns the spellings a lookup of w may find: w itself, if
	// stored.
	want := func(m map[string]bool, w string) []string {
		if m[w] {
			return []string{w}
		}
		return nil
	}
	check := func(what, w string, got []string, err error, m map[string]bool) {
		t.Helper()
		if err != nil {
			if m[w] {
				t.Errorf("%s %s: %v", what, showSpelling(w), err)
			}
			return
		}
		if exp := want(m, w); !equalSpellings(got, exp) {
			t.Errorf("%s %s found %d (%v), want %d", what, showSpelling(w), len(got), showSpellings(got), len(exp))
		}
	}
	for _, w := range spellings {
		ks, err := e.s.Keys(ctx, w)
		check("Keys of tenant", w, mapList(ks, func(k store.Key) string { return k.Tenant }), err, keyIn)
		k, err := e.s.Key(ctx, "keys", w)
		check("Key", w, found(k.ID, err), notFoundIsNil(err), keyID)
		as, err := e.s.Approvals(ctx, store.ApprovalFilter{Tenant: "apr", AgentID: w})
		check("Approvals of agent", w, mapList(as, func(a store.Approval) string { return a.AgentID }), err, apprAgent)
		a, err := e.s.PendingApproval(ctx, "apr", w, at(1))
		check("PendingApproval", w, found(a.Fingerprint, err), notFoundIsNil(err), fp)
		hs, err := e.s.Hops(ctx, store.HopFilter{Tenant: "hops", TokenID: w})
		check("Hops of token", w, mapList(hs, func(h store.Hop) string { return h.TokenID }), err, hopToken)
		hs, err = e.s.Hops(ctx, store.HopFilter{Tenant: "hops", KeyID: w})
		check("Hops of key", w, mapList(hs, func(h store.Hop) string { return h.KeyID }), err, hopToken)
		d, err := e.s.Policy(ctx, w)
		check("Policy", w, found(d.Tenant, err), notFoundIsNil(err), pol)
		h, err := e.s.AuditHead(ctx, w)
		check("AuditHead", w, found(h.Chain, err), notFoundIsNil(err), chain)
		rs, err := e.s.QueryAudit(ctx, store.AuditQuery{Chain: w})
		check("QueryAudit of chain", w, mapList(rs, func(r store.AuditRecord) string { return r.Chain }), err, chain)
		rs, err = e.s.QueryAudit(ctx, store.AuditQuery{AgentID: w})
		check("QueryAudit of agent", w, mapList(rs, func(r store.AuditRecord) string { return r.AgentID }), err, recAgent)
		rs, err = e.s.QueryAudit(ctx, store.AuditQuery{Tool: w})
		check("QueryAudit of tool", w, mapList(rs, func(r store.AuditRecord) string { return r.Tool }), err, recAgent)
		rs, err = e.s.QueryAudit(ctx, store.AuditQuery{Tenant: w})
		check("QueryAudit of tenant", w, mapList(rs, func(r store.AuditRecord) string { return r.Tenant }), err, recAgent)
	}
}

// Lists of strings (a key's roles, IP allowlist and caveats, an
// approval's approvers, a hop's caveats, an audit record's hop ids, a
// grant's resources) come back element for element as written, or the
// write is refused with ErrInvalid: a JSON encoding that turns a byte
// that is not UTF-8 into U+FFFD stores another caveat or approver than
// the one given.
func testSpellingLists(t *testing.T, e *env) {
	ctx := t.Context()
	for i, v := range []string{"a\xff", "\xffb", "a\x00b", "\u2028", `a"b\`, "<>&"} {
		list := []string{"x", v}
		what := func(field string) string { return field + " holding " + showSpelling(v) }
		k := apiKey(acme, fmt.Sprint("key-", i), 8000+i, 0)
		k.Roles, k.AllowedIPs, k.Caveats = list, list, list
		if stored(t, e.s.CreateKey(ctx, k), what("CreateKey with lists"), v) {
			got, err := e.s.KeyByHash(ctx, keyHash(8000+i))
			ok(t, err, "KeyByHash")
			equal(t, what("key roles"), got.Roles, list)
			equal(t, what("key allowed IPs"), got.AllowedIPs, list)
			equal(t, what("key caveats"), got.Caveats, list)
		}
		a := pendingApproval(acme, fmt.Sprint("ap-", i), 8000+i, 0)
		a.Approvers = list
		if stored(t, e.s.CreateApproval(ctx, a), what("CreateApproval with approvers"), v) {
			equal(t, what("approvers"), getApproval(t, e.s, acme, a.ID).Approvers, list)
		}
		h := hop(acme, fmt.Sprint("hop-", i), "", "tok-1", "key-1", i)
		h.Caveats = list
		if stored(t, e.s.CreateHop(ctx, h), what("CreateHop with caveats"), v) {
			hs := listHops(t, e.s, store.HopFilter{Tenant: acme})
			equal(t, what("hop caveats"), hs[len(hs)-1].Caveats, list)
		}
		r := chainRecord(fmt.Sprint("chain-", i), 1)
		r.HopIDs = list
		if stored(t, e.s.AppendAudit(ctx, []store.AuditRecord{r}), what("AppendAudit with hop ids"), v) {
			equal(t, what("audit hop ids"), auditHead(t, e.s, r.Chain).HopIDs, list)
		}
		if g, isGrants := e.s.(store.Grants); isGrants {
			gr := grant(acme, fmt.Sprint("g-", i), fmt.Sprint("agent-", i), "tool-1", 1, 0)
			gr.Resources = list
			if stored(t, g.CreateGrant(ctx, gr), what("CreateGrant with resources"), v) {
				gs, err := g.Grants(ctx, acme, gr.AgentID, "", at(1))
				ok(t, err, "Grants")
				if len(gs) != 1 {
					t.Fatalf("Grants lists %d grants, want 1", len(gs))
				}
				equal(t, what("grant resources"), gs[0].Resources, list)
			}
		}
	}
}

// Grants are listed for the agent, tool and tenant spelled as stored, and
// used by their id spelled as stored.
func testSpellingGrants(t *testing.T, e *env) {
	g := grants(t, e)
	ctx := t.Context()
	byName, byTenant, byID := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, v := range spellings {
		byName[v] = stored(t, g.CreateGrant(ctx, grant("gr", fmt.Sprint("g-", i), v, v, 5, 0)), "CreateGrant for agent and tool", v)
		byTenant[v] = stored(t, g.CreateGrant(ctx, grant(v, fmt.Sprint("t-", i), "agent-1", "tool-1", 5, 0)), "CreateGrant in tenant", v)
		byID[v] = stored(t, g.CreateGrant(ctx, grant("ids", v, "agent-1", "tool-1", 1, 0)), "CreateGrant with id", v)
	}
	for _, w := range spellings {
		for _, f := range []struct {
			what        string
			agent, tool string
		}{{"Grants of agent", w, ""}, {"Grants of tool", "", w}} {
			gs, err := g.Grants(ctx, "gr", f.agent, f.tool, at(1))
			if err != nil {
				if byName[w] {
					t.Errorf("%s %s: %v", f.what, showSpelling(w), err)
				}
				continue
			}
			got := mapList(gs, func(x store.Grant) string { return x.AgentID + "\x01" + x.Tool })
			if exp := wantSpelling(byName, w); len(got) != len(exp) || len(got) == 1 && got[0] != w+"\x01"+w {
				t.Errorf("%s %s found %d grants, want %d", f.what, showSpelling(w), len(got), len(exp))
			}
		}
		gs, err := g.Grants(ctx, w, "", "", at(1))
		if err == nil && len(gs) != len(wantSpelling(byTenant, w)) || err != nil && byTenant[w] {
			t.Errorf("Grants in tenant %s: %d grants, %v; want %d", showSpelling(w), len(gs), err, len(wantSpelling(byTenant, w)))
		}
	}
	// Use ids in reverse, so that a store that finds an id by another
	// spelling spends a grant still unused.
	for i := len(spellings) - 1; i >= 0; i-- {
		w := spellings[i]
		used, err := g.UseGrant(ctx, "ids", w, at(1))
		switch {
		case err == nil && (!byID[w] || used.ID != w):
			t.Errorf("UseGrant(%s) used %s, want %v", showSpelling(w), showSpelling(used.ID), wantSpelling(byID, w))
		case err != nil && byID[w]:
			t.Errorf("UseGrant(%s): %v", showSpelling(w), err)
		}
	}
}

// Each key spelling of a cluster rate limit is a bucket of its own.
func testSpellingRateKeys(t *testing.T, e *env) {
	l := limiter(t, e)
	ctx := t.Context()
	for _, w := range spellings {
		r := store.RateTake{Tenant: acme, Limit: "l1", Key: w, Interval: time.Hour, Burst: 1, Now: at(0)}
		allowed, err := l.TakeRate(ctx, r)
		if r.Validate() != nil {
			isErr(t, err, store.ErrInvalid, "TakeRate of key "+showSpelling(w))
			continue
		}
		ok(t, err, "TakeRate of key "+showSpelling(w))
		if !allowed {
			t.Errorf("the first take of key %s was refused: it shares a bucket with another spelling", showSpelling(w))
		}
		allowed, err = l.TakeRate(ctx, r)
		ok(t, err, "TakeRate again")
		if allowed {
			t.Errorf("the second take of key %s was allowed", showSpelling(w))
		}
	}
}

// Budget names and node ids that some database would fold are budgets of
// their own, and releasing one node releases no other spelling of it.
func testSpellingBudgetNames(t *testing.T, e *env) {
	b := budgeter(t, e)
	ctx := t.Context()
	var names []store.BudgetLimit
	var amounts []store.BudgetAmount
	for _, w := range spellings {
		if validBudget("key_1", w) {
			names = append(names, store.BudgetLimit{Name: w, Limit: 1})
			amounts = append(amounts, store.BudgetAmount{Name: w, Amount: 1})
		}
	}
	path := []store.BudgetNode{{ID: "key_1", Budgets: names}}
	mustSpend(t, b, store.BudgetSpend{Tenant: acme, Path: path, Amounts: amounts, Now: at(0)})
	rows, err := b.Budgets(ctx, acme, "key_1")
	ok(t, err, "Budgets")
	if len(rows) != len(names) {
		t.Fatalf("Budgets holds %d rows, want one for each of %d names", len(rows), len(names))
	}
	for _, a := range amounts {
		wantRefusal(t, b, store.BudgetSpend{Tenant: acme, Path: path, Amounts: []store.BudgetAmount{a}, Now: at(1)}, "key_1", a.Name, store.BudgetExhausted)
	}
	var ids []string
	for _, w := range spellings {
		if path := []store.BudgetNode{{ID: w, Budgets: []store.BudgetLimit{{Name: "calls", Limit: 1}}}}; validBudget(w, "calls") {
			ids = append(ids, w)
			mustSpend(t, b, store.BudgetSpend{Tenant: globex, Path: path, Now: at(0)})
		}
	}
	for i, id := range ids {
		n, err := b.ReleaseBudget(ctx, globex, id)
		ok(t, err, "ReleaseBudget")
		if n != 1 {
			t.Errorf("ReleaseBudget(%s) released %d rows, want 1", showSpelling(id), n)
		}
		for _, other := range ids[i+1:] {
			mustSpend(t, b, store.BudgetSpend{Tenant: globex, Path: []store.BudgetNode{{ID: other, Budgets: []store.BudgetLimit{{Name: "calls", Limit: 1}}}}, Now: at(0)})
		}
	}
}

// Expiries at, just before and just after now, the zero time and times
// before 1970 decide alike on every store.
func testSpellingTimeEdges(t *testing.T, e *env) {
	ctx := t.Context()
	now := at(100)
	edges := []struct {
		name string
		t    time.Time
		live bool // after now
	}{
		{"zero", time.Time{}, false}, {"now", now, false}, {"now+1ns", now.Add(1), true}, {"now-1ns", now.Add(-1), false},
		{"epoch", time.Unix(0, 0), false}, {"before 1970", time.Unix(-5, 0), false},
	}
	for i, c := range edges {
		a := pendingApproval("edges", fmt.Sprint("p-", i), 6000+i, 0)
		a.ExpiresAt = c.t
		ok(t, e.s.CreateApproval(ctx, a), "CreateApproval expiring "+c.name)
		_, err := e.s.PendingApproval(ctx, "edges", a.Fingerprint, now)
		if (err == nil) != c.live {
			t.Errorf("PendingApproval of one expiring %s: %v, want pending %v", c.name, err, c.live)
		}
		_, err = e.s.DecideApproval(ctx, "edges", a.ID, approve(now, at(5000)))
		if (err == nil) != c.live {
			t.Errorf("DecideApproval of one expiring %s: %v, want decided %v", c.name, err, c.live)
		}
		a = pendingApproval("edges", fmt.Sprint("c-", i), 7000+i, 0)
		ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
		_, err = e.s.DecideApproval(ctx, "edges", a.ID, approve(at(50), c.t))
		ok(t, err, "DecideApproval granting until "+c.name)
		_, err = e.s.ConsumeApproval(ctx, "edges", a.Fingerprint, now)
		if (err == nil) != c.live {
			t.Errorf("ConsumeApproval of a grant until %s: %v, want consumed %v", c.name, err, c.live)
		}
		id := fmt.Sprint("r-", i)
		ok(t, e.s.Revoke(ctx, store.Block{Tenant: "edges", ID: id, CreatedAt: at(0), ExpiresAt: c.t}), "Revoke expiring "+c.name)
		blocked(t, e.s, "edges", []string{id}, id, store.Revoked)
		if g, isGrants := e.s.(store.Grants); isGrants {
			gr := grant("edges", fmt.Sprint("g-", i), "agent-1", "tool-1", 1, 0)
			gr.ExpiresAt = c.t
			if err := g.CreateGrant(ctx, gr); err != nil {
				isErr(t, err, store.ErrInvalid, "CreateGrant expiring "+c.name)
				continue
			}
			_, err := g.UseGrant(ctx, "edges", gr.ID, now)
			if (err == nil) != c.live {
				t.Errorf("UseGrant of a grant expiring %s: %v, want used %v", c.name, err, c.live)
			}
		}
	}
	_, err := e.s.PruneRevocations(ctx, now)
	ok(t, err, "PruneRevocations")
	for i, c := range edges {
		id := fmt.Sprint("r-", i)
		_, hit, err := e.s.Blocked(ctx, "edges", []string{id})
		ok(t, err, "Blocked")
		if want := c.live || c.t.IsZero(); hit != want {
			t.Errorf("after PruneRevocations, a revocation expiring %s blocked = %v, want %v", c.name, hit, want)
		}
	}
}

// A seeded run of takes over three keys, with clocks stepping by
// nanoseconds, jumping ahead and going back, and intervals and bursts
// changing from take to take, gives on the store the answers of GCRA
// computed here.
func testSpellingRandomRates(t *testing.T, e *env) {
	l := limiter(t, e)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 11))
	tats := map[string]int64{}
	now := at(0).UnixNano()
	intervals := []time.Duration{time.Nanosecond, 999 * time.Nanosecond, time.Microsecond, time.Millisecond, time.Second, time.Hour}
	for i := range 400 {
		key := fmt.Sprint("k", rng.IntN(3))
		switch rng.IntN(6) {
		case 0:
			now += int64(rng.IntN(3))
		case 1:
			now -= int64(rng.IntN(2000))
		case 2:
			now += int64(rng.IntN(2_000_000))
		}
		iv, burst := intervals[rng.IntN(len(intervals))], 1+rng.IntN(4)
		if rng.IntN(40) == 0 {
			_, err := l.PruneRates(ctx, acme, time.Unix(0, now))
			ok(t, err, "PruneRates")
		}
		tat := max(tats[key], now)
		want := tat-now <= int64(burst-1)*int64(iv)
		if want {
			tats[key] = tat + int64(iv)
		}
		got, err := l.TakeRate(ctx, store.RateTake{Tenant: acme, Limit: "l1", Key: key, Interval: iv, Burst: burst, Now: time.Unix(0, now)})
		ok(t, err, "TakeRate")
		if got != want {
			t.Fatalf("take %d (key %s, interval %v, burst %d): allowed %v, want %v", i, key, iv, burst, got, want)
		}
	}
}

// validBudget reports whether a budget of name at node is one a
// Budgeter accepts.
func validBudget(node, name string) bool {
	s := store.BudgetSpend{Tenant: acme, Path: []store.BudgetNode{{ID: node, Budgets: []store.BudgetLimit{{Name: name, Limit: 1}}}}, Now: at(0)}
	return s.Validate() == nil
}

func wantSpelling(m map[string]bool, w string) []string {
	if m[w] {
		return []string{w}
	}
	return nil
}

func equalSpellings(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func showSpellings(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = showSpelling(s)
	}
	return out
}

func mapList[T any](xs []T, f func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// found returns []string{s} when err is nil.
func found(s string, err error) []string {
	if err != nil {
		return nil
	}
	return []string{s}
}

// notFoundIsNil turns ErrNotFound, the answer of a lookup that finds
// nothing, into nil.
func notFoundIsNil(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
