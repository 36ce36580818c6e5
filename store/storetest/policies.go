package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

func policyCases() []testCase {
	return []testCase{
		{name: "NotFound", run: testPolicyNotFound},
		{name: "CreateReplace", run: testPolicyCreateReplace},
		{name: "ConflictChangesNothing", run: testPolicyConflictChangesNothing},
		{name: "VersionSetByStore", run: testPolicyVersionSetByStore},
		{name: "PerTenant", run: testPolicyPerTenant},
		{name: "CompareAndSetRace", run: testPolicyCompareAndSetRace},
	}
}

func testPolicyNotFound(t *testing.T, e *env) {
	_, err := e.s.Policy(t.Context(), acme)
	isErr(t, err, store.ErrNotFound, "Policy of a tenant without one")
}

func testPolicyCreateReplace(t *testing.T, e *env) {
	ctx := t.Context()
	got, err := e.s.PutPolicy(ctx, policy(acme, "permit(principal, action, resource);"), 0)
	ok(t, err, "PutPolicy version 0")
	want := policy(acme, "permit(principal, action, resource);")
	want.Version = 1
	equalPolicy(t, "PutPolicy", got, want)
	stored, err := e.s.Policy(ctx, acme)
	ok(t, err, "Policy")
	equalPolicy(t, "Policy", stored, want)

	next := policy(acme, "forbid(principal, action, resource);")
	next.UpdatedAt = at(60)
	got, err = e.s.PutPolicy(ctx, next, 1)
	ok(t, err, "PutPolicy version 1")
	next.Version = 2
	equalPolicy(t, "PutPolicy", got, next)
	stored, err = e.s.Policy(ctx, acme)
	ok(t, err, "Policy")
	equalPolicy(t, "Policy", stored, next)
}

func testPolicyConflictChangesNothing(t *testing.T, e *env) {
	ctx := t.Context()
	_, err := e.s.PutPolicy(ctx, policy(acme, "v1"), 0)
	ok(t, err, "PutPolicy")
	for _, expect := range []int64{0, 2, 7, -1} {
		_, err := e.s.PutPolicy(ctx, policy(acme, fmt.Sprint("stale ", expect)), expect)
		isErr(t, err, store.ErrConflict, fmt.Sprintf("PutPolicy expecting version %d of 1", expect))
	}
	got, err := e.s.Policy(ctx, acme)
	ok(t, err, "Policy")
	want := policy(acme, "v1")
	want.Version = 1
	equalPolicy(t, "Policy after conflicts", got, want)

	_, err = e.s.PutPolicy(ctx, policy(globex, "v1"), 1)
	isErr(t, err, store.ErrConflict, "PutPolicy expecting version 1 of none")
	_, err = e.s.Policy(ctx, globex)
	isErr(t, err, store.ErrNotFound, "Policy after a conflict")
}

func testPolicyVersionSetByStore(t *testing.T, e *env) {
	doc := policy(acme, "v1")
	doc.Version = 42
	got, err := e.s.PutPolicy(t.Context(), doc, 0)
	ok(t, err, "PutPolicy")
	if got.Version != 1 {
		t.Fatalf("PutPolicy of a doc with Version 42 expecting 0 returned Version %d, want 1", got.Version)
	}
	stored, err := e.s.Policy(t.Context(), acme)
	ok(t, err, "Policy")
	if stored.Version != 1 {
		t.Fatalf("stored Version %d, want 1", stored.Version)
	}
}

func testPolicyPerTenant(t *testing.T, e *env) {
	ctx := t.Context()
	_, err := e.s.PutPolicy(ctx, policy(acme, "acme v1"), 0)
	ok(t, err, "PutPolicy acme")
	_, err = e.s.PutPolicy(ctx, policy(globex, "globex v1"), 0)
	ok(t, err, "PutPolicy globex")
	_, err = e.s.PutPolicy(ctx, policy(acme, "acme v2"), 1)
	ok(t, err, "PutPolicy acme v2")

	got, err := e.s.Policy(ctx, globex)
	ok(t, err, "Policy globex")
	want := policy(globex, "globex v1")
	want.Version = 1
	equalPolicy(t, "Policy globex", got, want)
	got, err = e.s.Policy(ctx, acme)
	ok(t, err, "Policy acme")
	want = policy(acme, "acme v2")
	want.Version = 2
	equalPolicy(t, "Policy acme", got, want)
}

func testPolicyCompareAndSetRace(t *testing.T, e *env) {
	ctx := t.Context()
	_, err := e.s.PutPolicy(ctx, policy(acme, "v1"), 0)
	ok(t, err, "PutPolicy")

	const writers = 16
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = e.s.PutPolicy(ctx, policy(acme, fmt.Sprint("writer ", i)), 1)
		})
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both replaced version 1", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("writer %d: error = %v, want one wrapping %v", i, err, store.ErrConflict)
		}
	}
	if winner < 0 {
		t.Fatal("no writer replaced version 1")
	}
	got, err := e.s.Policy(ctx, acme)
	ok(t, err, "Policy")
	if got.Version != 2 || string(got.Body) != fmt.Sprint("writer ", winner) {
		t.Fatalf("Policy = version %d %q, want version 2 from writer %d", got.Version, got.Body, winner)
	}
}
