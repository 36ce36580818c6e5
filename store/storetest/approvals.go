package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

func approvalCases() []testCase {
	return []testCase{
		{name: "CreateGet", run: testApprovalCreateGet},
		{name: "CreateIsPending", run: testApprovalCreateIsPending},
		{name: "CreateDuplicate", run: testApprovalCreateDuplicate},
		{name: "NotFound", run: testApprovalNotFound},
		{name: "List", run: testApprovalList},
		{name: "Approve", run: testApprovalApprove},
		{name: "Deny", run: testApprovalDeny},
		{name: "DecideOnlyPending", run: testApprovalDecideOnlyPending},
		{name: "DecideNotFound", run: testApprovalDecideNotFound},
		{name: "DecideLapsed", run: testApprovalDecideLapsed},
		{name: "DecideInvalidStatus", run: testApprovalDecideInvalidStatus},
		{name: "DecideRace", run: testApprovalDecideRace},
		{name: "ConsumeOnce", run: testApprovalConsumeOnce},
		{name: "ConsumeRace", run: testApprovalConsumeRace},
		{name: "ConsumeGrantExpiry", run: testApprovalConsumeGrantExpiry},
		{name: "ConsumeScope", run: testApprovalConsumeScope},
		{name: "ConsumeEachOfSeveral", run: testApprovalConsumeEachOfSeveral},
		{name: "Pending", run: testApprovalPending},
		{name: "SameIDOtherTenant", run: testApprovalSameIDOtherTenant},
		{name: "ConsumeOldest", run: testApprovalConsumeOldest},
		{name: "PendingOldest", run: testApprovalPendingOldest},
		{name: "ZeroExpiryHasLapsed", run: testApprovalZeroExpiryHasLapsed},
		{name: "LapsedListedAsPending", run: testApprovalLapsedListedAsPending},
		{name: "Withdraw", run: testApprovalWithdraw},
		{name: "WithdrawRacesConsume", run: testApprovalWithdrawRacesConsume},
		{name: "WithdrawClosed", run: testApprovalWithdrawClosed},
		{name: "Void", run: testApprovalVoid},
	}
}

func testApprovalCreateGet(t *testing.T, e *env) {
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(t.Context(), a), "CreateApproval")
	equalApproval(t, "Approval", getApproval(t, e.s, acme, "ap-1"), pendingApproval(acme, "ap-1", 1, 0))
}

// A caller cannot create an approval that is already approved: the store
// either refuses it or stores it pending.
func testApprovalCreateIsPending(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	a.Status = store.ApprovalApproved
	a.GrantExpiresAt = at(600)
	if err := e.s.CreateApproval(ctx, a); err != nil {
		_, err := e.s.Approval(ctx, acme, "ap-1")
		isErr(t, err, store.ErrNotFound, "Approval after a refused CreateApproval")
		return
	}
	if got := getApproval(t, e.s, acme, "ap-1"); got.Status != store.ApprovalPending {
		t.Errorf("created with status %q: stored status %q, want %q", a.Status, got.Status, store.ApprovalPending)
	}
	_, err := e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(1))
	isErr(t, err, store.ErrNotFound, "ConsumeApproval of a created approval")
}

func testApprovalCreateDuplicate(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")
	dup := pendingApproval(acme, "ap-1", 2, 5)
	dup.Reason = "other"
	isErr(t, e.s.CreateApproval(ctx, dup), store.ErrConflict, "CreateApproval with an existing id")
	equalApproval(t, "Approval", getApproval(t, e.s, acme, "ap-1"), pendingApproval(acme, "ap-1", 1, 0))
}

func testApprovalNotFound(t *testing.T, e *env) {
	ctx := t.Context()
	_, err := e.s.Approval(ctx, acme, "ap-1")
	isErr(t, err, store.ErrNotFound, "Approval of an unknown id")
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")
	_, err = e.s.Approval(ctx, globex, "ap-1")
	isErr(t, err, store.ErrNotFound, "Approval in another tenant")
}

func testApprovalList(t *testing.T, e *env) {
	ctx := t.Context()
	create := func(tenant, id, agent string, created int) {
		t.Helper()
		a := pendingApproval(tenant, id, created, created)
		a.AgentID = agent
		ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	}
	create(acme, "a1", "agent-1", 30)
	create(acme, "a2", "agent-2", 10)
	create(acme, "a3", "agent-1", 20)
	create(globex, "g1", "agent-1", 5)
	_, err := e.s.DecideApproval(ctx, acme, "a3", approve(at(21), at(600)))
	ok(t, err, "DecideApproval")

	tests := []struct {
		name string
		f    store.ApprovalFilter
		want []string
	}{
		{"all", store.ApprovalFilter{}, []string{"globex/g1", "acme/a2", "acme/a3", "acme/a1"}},
		{"tenant", store.ApprovalFilter{Tenant: acme}, []string{"acme/a2", "acme/a3", "acme/a1"}},
		{"agent", store.ApprovalFilter{Tenant: acme, AgentID: "agent-1"}, []string{"acme/a3", "acme/a1"}},
		{"pending", store.ApprovalFilter{Status: store.ApprovalPending}, []string{"globex/g1", "acme/a2", "acme/a1"}},
		{"approved", store.ApprovalFilter{Status: store.ApprovalApproved}, []string{"acme/a3"}},
		{"limit", store.ApprovalFilter{Tenant: acme, Limit: 2}, []string{"acme/a2", "acme/a3"}},
		{"limit above count", store.ApprovalFilter{Tenant: acme, Limit: 10}, []string{"acme/a2", "acme/a3", "acme/a1"}},
		{"all fields", store.ApprovalFilter{AgentID: "agent-1", Status: store.ApprovalPending, Limit: 1}, []string{"globex/g1"}},
		{"no tenant match", store.ApprovalFilter{Tenant: "initech"}, nil},
		{"no status match", store.ApprovalFilter{Status: store.ApprovalConsumed}, nil},
		// Still awaiting a decision: g1 lapsed at 3605, a2 lapses at 3610,
		// a3 is decided. A lapsed approval takes no place under Limit.
		{"pending at", store.ApprovalFilter{PendingAt: at(3607)}, []string{"acme/a2", "acme/a1"}},
		{"pending at the instant one lapses", store.ApprovalFilter{PendingAt: at(3610)}, []string{"acme/a1"}},
		{"pending at with limit", store.ApprovalFilter{Tenant: acme, PendingAt: at(3611), Limit: 1}, []string{"acme/a1"}},
		{"pending at, approved", store.ApprovalFilter{Status: store.ApprovalApproved, PendingAt: at(22)}, nil},
	}
	for _, tt := range tests {
		got, err := e.s.Approvals(ctx, tt.f)
		ok(t, err, "Approvals "+tt.name)
		equalKeys(t, "Approvals "+tt.name, approvalKeys(got), tt.want)
	}
}

func testApprovalApprove(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")
	byToken := approve(at(10), at(600))
	byToken.ByCredentials = []string{"tok_alice", "hop_é1"} // decided with a token of key_alice
	got, err := e.s.DecideApproval(ctx, acme, "ap-1", byToken)
	ok(t, err, "DecideApproval")

	want := pendingApproval(acme, "ap-1", 1, 0)
	want.Status = store.ApprovalApproved
	want.DecidedAt = at(10)
	want.DecidedBy = "alice"
	want.DecidedByKey = "key_alice" // the key it was decided with, which bounds it
	want.DecidedByCredentials = []string{"tok_alice", "hop_é1"}
	want.Note = "fine"
	want.GrantExpiresAt = at(600)
	equalApproval(t, "DecideApproval", got, want)
	equalApproval(t, "Approval", getApproval(t, e.s, acme, "ap-1"), want)
	consumed, err := e.s.ConsumeApproval(ctx, acme, want.Fingerprint, at(11))
	ok(t, err, "ConsumeApproval")
	equal(t, "key of the approval consumed", consumed.DecidedByKey, "key_alice")
	equal(t, "credentials of the approval consumed", consumed.DecidedByCredentials, want.DecidedByCredentials)
	listed, err := e.s.Approvals(ctx, store.ApprovalFilter{Tenant: acme})
	ok(t, err, "Approvals")
	if len(listed) != 1 || listed[0].DecidedByKey != "key_alice" || !slices.Equal(listed[0].DecidedByCredentials, want.DecidedByCredentials) {
		t.Errorf("Approvals lists %v, want ap-1 decided with key_alice through %v", show(listed), want.DecidedByCredentials)
	}
	bare := approve(at(10), at(600))
	bare.ByKey = "" // a library caller's decision
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-2", 2, 1)), "CreateApproval")
	got, err = e.s.DecideApproval(ctx, acme, "ap-2", bare)
	ok(t, err, "DecideApproval without a key")
	equal(t, "key of an approval decided without one", getApproval(t, e.s, acme, "ap-2").DecidedByKey, "")
	if creds := getApproval(t, e.s, acme, "ap-2").DecidedByCredentials; len(creds) != 0 {
		t.Errorf("credentials of an approval decided without any: %v", creds)
	}
}

func testApprovalDeny(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	got, err := e.s.DecideApproval(ctx, acme, "ap-1", deny(at(10)))
	ok(t, err, "DecideApproval")
	if got.Status != store.ApprovalDenied || !got.DecidedAt.Equal(at(10)) || got.DecidedBy != "bob" || got.Note != "no" {
		t.Errorf("DecideApproval = %s, want denied at %v by bob with note", show(got), at(10))
	}
	equalApproval(t, "Approval", getApproval(t, e.s, acme, "ap-1"), got)
	_, err = e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(11))
	isErr(t, err, store.ErrNotFound, "ConsumeApproval of a denied approval")
	_, err = e.s.PendingApproval(ctx, acme, a.Fingerprint, at(11))
	isErr(t, err, store.ErrNotFound, "PendingApproval of a denied approval")
}

func testApprovalDecideOnlyPending(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	_, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")

	_, err = e.s.DecideApproval(ctx, acme, "ap-1", deny(at(11)))
	isErr(t, err, store.ErrConflict, "DecideApproval of an approved approval")
	if got := getApproval(t, e.s, acme, "ap-1"); got.Status != store.ApprovalApproved || got.DecidedBy != "alice" {
		t.Fatalf("after a refused decision: %s, want approved by alice", show(got))
	}
	_, err = e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(12))
	ok(t, err, "ConsumeApproval")
	_, err = e.s.DecideApproval(ctx, acme, "ap-1", approve(at(13), at(600)))
	isErr(t, err, store.ErrConflict, "DecideApproval of a consumed approval")
	if got := getApproval(t, e.s, acme, "ap-1"); got.Status != store.ApprovalConsumed {
		t.Fatalf("after a refused decision: status %q, want %q", got.Status, store.ApprovalConsumed)
	}
}

func testApprovalDecideNotFound(t *testing.T, e *env) {
	ctx := t.Context()
	_, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	isErr(t, err, store.ErrNotFound, "DecideApproval of an unknown id")
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")
	_, err = e.s.DecideApproval(ctx, globex, "ap-1", approve(at(10), at(600)))
	isErr(t, err, store.ErrNotFound, "DecideApproval in another tenant")
	if got := getApproval(t, e.s, acme, "ap-1"); got.Status != store.ApprovalPending {
		t.Fatalf("status %q after a decision in another tenant, want pending", got.Status)
	}
}

func testApprovalDecideLapsed(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0) // lapses at at(3600)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	for _, when := range []int{3600, 3601} {
		_, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(when), at(7200)))
		isErr(t, err, store.ErrConflict, "DecideApproval at or after ExpiresAt")
	}
	equalApproval(t, "Approval after refused decisions", getApproval(t, e.s, acme, "ap-1"), a)
	_, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(3599), at(7200)))
	ok(t, err, "DecideApproval just before ExpiresAt")
}

func testApprovalDecideInvalidStatus(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	for _, status := range []store.ApprovalStatus{"", store.ApprovalPending, store.ApprovalConsumed, "maybe", "APPROVED"} {
		d := approve(at(10), at(600))
		d.Status = status
		if _, err := e.s.DecideApproval(ctx, acme, "ap-1", d); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("DecideApproval with status %q: error = %v, want one wrapping %v", status, err, store.ErrInvalid)
		}
	}
	equalApproval(t, "Approval after invalid decisions", getApproval(t, e.s, acme, "ap-1"), a)
}

func testApprovalDecideRace(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")

	const deciders = 16
	results := make([]store.Approval, deciders)
	errs := make([]error, deciders)
	var wg sync.WaitGroup
	for i := range deciders {
		wg.Go(func() {
			d := approve(at(10), at(600))
			if i%2 == 1 {
				d = deny(at(10))
			}
			results[i], errs[i] = e.s.DecideApproval(ctx, acme, "ap-1", d)
		})
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("deciders %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("decider %d: error = %v, want one wrapping %v", i, err, store.ErrConflict)
		}
	}
	if winner < 0 {
		t.Fatal("no decider succeeded")
	}
	equalApproval(t, "Approval", getApproval(t, e.s, acme, "ap-1"), results[winner])
}

func testApprovalConsumeOnce(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	approved, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")

	got, err := e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(100))
	ok(t, err, "ConsumeApproval")
	want := approved
	want.Status = store.ApprovalConsumed
	want.ConsumedAt = at(100)
	equalApproval(t, "ConsumeApproval", got, want)
	equalApproval(t, "Approval", getApproval(t, e.s, acme, "ap-1"), want)

	_, err = e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(101))
	isErr(t, err, store.ErrNotFound, "second ConsumeApproval")
}

func testApprovalConsumeRace(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	_, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")

	const consumers = 32
	errs := make([]error, consumers)
	var wg sync.WaitGroup
	for i := range consumers {
		wg.Go(func() {
			_, errs[i] = e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(100))
		})
	}
	wg.Wait()

	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("consumer %d: error = %v, want one wrapping %v", i, err, store.ErrNotFound)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent ConsumeApproval calls succeeded, want exactly 1", wins, consumers)
	}
	if got := getApproval(t, e.s, acme, "ap-1"); got.Status != store.ApprovalConsumed {
		t.Fatalf("status %q, want %q", got.Status, store.ApprovalConsumed)
	}
}

func testApprovalConsumeGrantExpiry(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	_, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")

	for _, when := range []int{600, 601} {
		_, err := e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(when))
		isErr(t, err, store.ErrNotFound, "ConsumeApproval at or after GrantExpiresAt")
	}
	if got := getApproval(t, e.s, acme, "ap-1"); got.Status != store.ApprovalApproved || !got.ConsumedAt.IsZero() {
		t.Fatalf("after refused consumption: %s, want approved and not consumed", show(got))
	}
	_, err = e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(599))
	ok(t, err, "ConsumeApproval just before GrantExpiresAt")
}

func testApprovalConsumeScope(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
	_, err := e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(5))
	isErr(t, err, store.ErrNotFound, "ConsumeApproval of a pending approval")

	_, err = e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")
	_, err = e.s.ConsumeApproval(ctx, globex, a.Fingerprint, at(100))
	isErr(t, err, store.ErrNotFound, "ConsumeApproval in another tenant")
	_, err = e.s.ConsumeApproval(ctx, acme, fingerprint(2), at(100))
	isErr(t, err, store.ErrNotFound, "ConsumeApproval of another fingerprint")
	_, err = e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(100))
	ok(t, err, "ConsumeApproval")
}

func testApprovalConsumeEachOfSeveral(t *testing.T, e *env) {
	ctx := t.Context()
	for _, id := range []string{"ap-1", "ap-2"} {
		ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, id, 1, 0)), "CreateApproval")
		_, err := e.s.DecideApproval(ctx, acme, id, approve(at(10), at(600)))
		ok(t, err, "DecideApproval")
	}
	first, err := e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(100))
	ok(t, err, "first ConsumeApproval")
	second, err := e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(100))
	ok(t, err, "second ConsumeApproval")
	if first.ID == second.ID {
		t.Fatalf("approval %q consumed twice", first.ID)
	}
	_, err = e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(100))
	isErr(t, err, store.ErrNotFound, "third ConsumeApproval")
}

func testApprovalPending(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0) // lapses at at(3600)
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")

	got, err := e.s.PendingApproval(ctx, acme, a.Fingerprint, at(3599))
	ok(t, err, "PendingApproval")
	equalApproval(t, "PendingApproval", got, a)

	tests := []struct {
		name, tenant, fp string
		now              int
	}{
		{"at ExpiresAt", acme, a.Fingerprint, 3600},
		{"after ExpiresAt", acme, a.Fingerprint, 3601},
		{"another tenant", globex, a.Fingerprint, 10},
		{"another fingerprint", acme, fingerprint(2), 10},
	}
	for _, tt := range tests {
		_, err := e.s.PendingApproval(ctx, tt.tenant, tt.fp, at(tt.now))
		isErr(t, err, store.ErrNotFound, "PendingApproval "+tt.name)
	}

	_, err = e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")
	_, err = e.s.PendingApproval(ctx, acme, a.Fingerprint, at(11))
	isErr(t, err, store.ErrNotFound, "PendingApproval of a decided approval")
}

// Approval ids are unique per tenant: two tenants may use the same one.
func testApprovalSameIDOtherTenant(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval in acme")
	ok(t, e.s.CreateApproval(ctx, pendingApproval(globex, "ap-1", 2, 1)), "CreateApproval of the same id in globex")
	equalApproval(t, "Approval(acme)", getApproval(t, e.s, acme, "ap-1"), pendingApproval(acme, "ap-1", 1, 0))
	equalApproval(t, "Approval(globex)", getApproval(t, e.s, globex, "ap-1"), pendingApproval(globex, "ap-1", 2, 1))

	_, err := e.s.DecideApproval(ctx, globex, "ap-1", deny(at(10)))
	ok(t, err, "DecideApproval in globex")
	if got := getApproval(t, e.s, acme, "ap-1"); got.Status != store.ApprovalPending {
		t.Fatalf("acme's ap-1 is %s after globex's was denied, want pending", got.Status)
	}
}

// Of several approved approvals for one request, the oldest is consumed
// first.
func testApprovalConsumeOldest(t *testing.T, e *env) {
	ctx := t.Context()
	for _, a := range []struct {
		id      string
		created int
	}{{"ap-a", 20}, {"ap-b", 10}, {"ap-c", 30}} {
		ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, a.id, 1, a.created)), "CreateApproval")
		_, err := e.s.DecideApproval(ctx, acme, a.id, approve(at(40), at(600)))
		ok(t, err, "DecideApproval")
	}
	for _, want := range []string{"ap-b", "ap-a", "ap-c"} {
		got, err := e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(100))
		ok(t, err, "ConsumeApproval")
		if got.ID != want {
			t.Fatalf("ConsumeApproval consumed %s, want the oldest left, %s", got.ID, want)
		}
	}
}

// Of several pending approvals for one request, the oldest live one is
// returned.
func testApprovalPendingOldest(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-a", 1, 20)), "CreateApproval")
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-b", 1, 10)), "CreateApproval")
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-c", 1, 30)), "CreateApproval")

	pending := func(now int, want string) {
		t.Helper()
		got, err := e.s.PendingApproval(ctx, acme, fingerprint(1), at(now))
		ok(t, err, "PendingApproval")
		if got.ID != want {
			t.Fatalf("PendingApproval at %d = %s, want %s", now, got.ID, want)
		}
	}
	pending(40, "ap-b")
	_, err := e.s.DecideApproval(ctx, acme, "ap-b", deny(at(41)))
	ok(t, err, "DecideApproval")
	pending(42, "ap-a")
	pending(3620, "ap-c") // ap-a lapsed at 3620
}

// A zero ExpiresAt means the approval has already lapsed: it cannot be
// decided and is not pending, though it is listed as pending.
func testApprovalZeroExpiryHasLapsed(t *testing.T, e *env) {
	ctx := t.Context()
	a := pendingApproval(acme, "ap-1", 1, 0)
	a.ExpiresAt = time.Time{}
	ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")

	_, err := e.s.PendingApproval(ctx, acme, a.Fingerprint, at(1))
	isErr(t, err, store.ErrNotFound, "PendingApproval of an approval with a zero ExpiresAt")
	_, err = e.s.DecideApproval(ctx, acme, "ap-1", approve(at(1), at(600)))
	isErr(t, err, store.ErrConflict, "DecideApproval of an approval with a zero ExpiresAt")
	_, err = e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(2))
	isErr(t, err, store.ErrNotFound, "ConsumeApproval of an approval with a zero ExpiresAt")
	equalApproval(t, "Approval", getApproval(t, e.s, acme, "ap-1"), a)
	as, err := e.s.Approvals(ctx, store.ApprovalFilter{Status: store.ApprovalPending})
	ok(t, err, "Approvals")
	equalKeys(t, "pending Approvals", approvalKeys(as), []string{"acme/ap-1"})
}

// The store reads no clock: an approval past its ExpiresAt is still listed
// as pending.
func testApprovalLapsedListedAsPending(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")
	_, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(3600), at(7200)))
	isErr(t, err, store.ErrConflict, "DecideApproval after ExpiresAt")
	as, err := e.s.Approvals(ctx, store.ApprovalFilter{Tenant: acme, Status: store.ApprovalPending})
	ok(t, err, "Approvals")
	if len(as) != 1 || as[0].Status != store.ApprovalPending {
		t.Fatalf("Approvals = %s, want ap-1 listed as pending", show(as))
	}
}

// withdrawer returns e.s as a store.Withdrawer, or skips t.
func withdrawer(t *testing.T, e *env) store.Withdrawer {
	t.Helper()
	w, isWithdrawer := e.s.(store.Withdrawer)
	if !isWithdrawer {
		t.Skip("storetest: the store is not a store.Withdrawer")
	}
	return w
}

// An approved approval not yet consumed is withdrawn (denied, with the
// withdrawal's decision), even once its grant has lapsed, and is then
// consumed by no one; a pending, denied or consumed one is not
// (ErrConflict), nor one of another tenant (ErrNotFound).
func testApprovalWithdraw(t *testing.T, e *env) {
	w := withdrawer(t, e)
	ctx := t.Context()
	for i, id := range []string{"ap-1", "ap-2", "ap-3", "ap-4", "ap-5"} {
		ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, id, i+1, i)), "CreateApproval "+id)
	}
	for _, id := range []string{"ap-1", "ap-2", "ap-3", "ap-5"} {
		_, err := e.s.DecideApproval(ctx, acme, id, approve(at(10), at(600)))
		ok(t, err, "DecideApproval "+id)
	}
	_, err := e.s.ConsumeApproval(ctx, acme, fingerprint(3), at(11))
	ok(t, err, "ConsumeApproval ap-3")

	_, err = w.WithdrawApproval(ctx, acme, "ap-1", store.ApprovalDecision{Status: store.ApprovalApproved, By: "bob", At: at(12)})
	isErr(t, err, store.ErrInvalid, "WithdrawApproval with status approved")
	_, err = w.WithdrawApproval(ctx, globex, "ap-1", deny(at(12)))
	isErr(t, err, store.ErrNotFound, "WithdrawApproval from another tenant")
	_, err = w.WithdrawApproval(ctx, acme, "nope", deny(at(12)))
	isErr(t, err, store.ErrNotFound, "WithdrawApproval of an unknown id")

	withdrawal := deny(at(12))
	withdrawal.ByCredentials = []string{"tok_bob"}
	got, err := w.WithdrawApproval(ctx, acme, "ap-1", withdrawal)
	ok(t, err, "WithdrawApproval")
	if got.Status != store.ApprovalDenied || got.DecidedBy != "bob" || got.DecidedByKey != "key_bob" || !slices.Equal(got.DecidedByCredentials, []string{"tok_bob"}) ||
		got.Note != "no" || !got.DecidedAt.Equal(at(12)) {
		t.Errorf("WithdrawApproval = %s, want denied at %v by bob (key_bob, tok_bob) with note", show(got), at(12))
	}
	equalApproval(t, "Approval after the withdrawal", getApproval(t, e.s, acme, "ap-1"), got)
	_, err = e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(13))
	isErr(t, err, store.ErrNotFound, "ConsumeApproval of a withdrawn approval")
	_, err = w.WithdrawApproval(ctx, acme, "ap-1", deny(at(14)))
	isErr(t, err, store.ErrConflict, "WithdrawApproval of a withdrawn approval")

	_, err = w.WithdrawApproval(ctx, acme, "ap-2", deny(at(700)))
	ok(t, err, "WithdrawApproval after its grant lapsed")
	_, err = w.WithdrawApproval(ctx, acme, "ap-3", deny(at(14)))
	isErr(t, err, store.ErrConflict, "WithdrawApproval of a consumed approval")
	equal(t, "status of the consumed approval", getApproval(t, e.s, acme, "ap-3").Status, store.ApprovalConsumed)
	_, err = w.WithdrawApproval(ctx, acme, "ap-4", deny(at(14)))
	isErr(t, err, store.ErrConflict, "WithdrawApproval of a pending approval")
	equal(t, "status of the pending approval", getApproval(t, e.s, acme, "ap-4").Status, store.ApprovalPending)
	_, err = e.s.ConsumeApproval(ctx, acme, fingerprint(5), at(15))
	ok(t, err, "ConsumeApproval of an approval beside the withdrawn ones")
}

// A withdrawal racing consumers for one approval: exactly one of them
// wins, and the approval ends as the winner left it.
func testApprovalWithdrawRacesConsume(t *testing.T, e *env) {
	w := withdrawer(t, e)
	ctx := t.Context()
	for round := range 8 {
		id := "ap-" + string(rune('a'+round))
		a := pendingApproval(acme, id, 100+round, round)
		ok(t, e.s.CreateApproval(ctx, a), "CreateApproval")
		_, err := e.s.DecideApproval(ctx, acme, id, approve(at(10), at(600)))
		ok(t, err, "DecideApproval")
		const consumers = 4
		var wg sync.WaitGroup
		errs := make([]error, consumers+1)
		for i := range consumers {
			wg.Go(func() { _, errs[i] = e.s.ConsumeApproval(ctx, acme, a.Fingerprint, at(11)) })
		}
		wg.Go(func() { _, errs[consumers] = w.WithdrawApproval(ctx, acme, id, deny(at(11))) })
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case i < consumers && !errors.Is(err, store.ErrNotFound):
				t.Errorf("round %d: consumer %d: %v, want success or ErrNotFound", round, i, err)
			case i == consumers && !errors.Is(err, store.ErrConflict):
				t.Errorf("round %d: withdrawal: %v, want success or ErrConflict", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d of the withdrawal and %d consumers succeeded, want exactly one: %v", round, wins, consumers, errs)
		}
		want := store.ApprovalConsumed
		if errs[consumers] == nil {
			want = store.ApprovalDenied
		}
		equal(t, "status after the race", getApproval(t, e.s, acme, id).Status, want)
	}
}

func testApprovalWithdrawClosed(t *testing.T, e *env) {
	w := withdrawer(t, e)
	ok(t, e.s.CreateApproval(t.Context(), pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")
	_, err := e.s.DecideApproval(t.Context(), acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")
	ok(t, e.s.Close(), "Close")
	_, err = w.WithdrawApproval(context.Background(), acme, "ap-1", deny(at(11)))
	isErr(t, err, store.ErrClosed, "WithdrawApproval after Close")
}

// A consumed approval that allowed nothing (its approver stopped) is
// voided: denied, with the note saying why, the rest kept. Only a
// consumed approval is; an unknown id is not found.
func testApprovalVoid(t *testing.T, e *env) {
	v, isVoider := e.s.(store.Voider)
	if !isVoider {
		t.Skip("storetest: the store is not a store.Voider")
	}
	ctx := t.Context()
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-1", 1, 0)), "CreateApproval")
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-2", 2, 1)), "CreateApproval")
	_, err := e.s.DecideApproval(ctx, acme, "ap-1", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")
	_, err = e.s.DecideApproval(ctx, acme, "ap-2", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")
	_, err = v.VoidApproval(ctx, acme, "ap-2", "x")
	isErr(t, err, store.ErrConflict, "VoidApproval of an approval not consumed")
	consumed, err := e.s.ConsumeApproval(ctx, acme, fingerprint(1), at(11))
	ok(t, err, "ConsumeApproval")
	_, err = v.VoidApproval(ctx, globex, "ap-1", "x")
	isErr(t, err, store.ErrNotFound, "VoidApproval from another tenant")
	_, err = v.VoidApproval(ctx, acme, "nope", "x")
	isErr(t, err, store.ErrNotFound, "VoidApproval of an unknown id")

	const note = "allowed nothing: approver alice was stopped; é"
	got, err := v.VoidApproval(ctx, acme, "ap-1", note)
	ok(t, err, "VoidApproval")
	want := consumed
	want.Status, want.Note = store.ApprovalDenied, note
	equalApproval(t, "VoidApproval", got, want)
	equalApproval(t, "Approval after VoidApproval", getApproval(t, e.s, acme, "ap-1"), want)
	_, err = v.VoidApproval(ctx, acme, "ap-1", note)
	isErr(t, err, store.ErrConflict, "VoidApproval again")
	equal(t, "ap-2 untouched", getApproval(t, e.s, acme, "ap-2").Status, store.ApprovalApproved)
}
