package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

func lifecycleCases() []testCase {
	return []testCase{
		{name: "EveryMethodCovered", run: testEveryMethodCovered},
		{name: "Closed", run: testClosed},
		{name: "CancelledContext", run: testCancelledContext},
	}
}

// call is one call of a store method. calls holds one for every method but
// Close, in an order in which each succeeds on a store prepared by seed
// after the ones before it have run.
type call struct {
	method string
	run    func(ctx context.Context, s store.Store) error
}

func calls() []call {
	return []call{
		{"Suspend", func(ctx context.Context, s store.Store) error {
			return s.Suspend(ctx, block(acme, "new", 1))
		}},
		{"Resume", func(ctx context.Context, s store.Store) error {
			return s.Resume(ctx, acme, "suspended")
		}},
		{"Revoke", func(ctx context.Context, s store.Store) error {
			return s.Revoke(ctx, block(acme, "new", 1))
		}},
		{"Blocked", func(ctx context.Context, s store.Store) error {
			_, _, err := s.Blocked(ctx, acme, []string{"revoked"})
			return err
		}},
		{"Blocks", func(ctx context.Context, s store.Store) error {
			_, err := s.Blocks(ctx, "")
			return err
		}},
		{"PruneRevocations", func(ctx context.Context, s store.Store) error {
			_, err := s.PruneRevocations(ctx, at(100))
			return err
		}},
		{"CreateApproval", func(ctx context.Context, s store.Store) error {
			return s.CreateApproval(ctx, pendingApproval(acme, "new", 3, 1))
		}},
		{"Approval", func(ctx context.Context, s store.Store) error {
			_, err := s.Approval(ctx, acme, "pending")
			return err
		}},
		{"Approvals", func(ctx context.Context, s store.Store) error {
			_, err := s.Approvals(ctx, store.ApprovalFilter{})
			return err
		}},
		{"PendingApproval", func(ctx context.Context, s store.Store) error {
			_, err := s.PendingApproval(ctx, acme, fingerprint(1), at(20))
			return err
		}},
		{"DecideApproval", func(ctx context.Context, s store.Store) error {
			_, err := s.DecideApproval(ctx, acme, "pending", approve(at(10), at(600)))
			return err
		}},
		{"ConsumeApproval", func(ctx context.Context, s store.Store) error {
			_, err := s.ConsumeApproval(ctx, acme, fingerprint(2), at(20))
			return err
		}},
		{"Policy", func(ctx context.Context, s store.Store) error {
			_, err := s.Policy(ctx, acme)
			return err
		}},
		{"PutPolicy", func(ctx context.Context, s store.Store) error {
			_, err := s.PutPolicy(ctx, policy(acme, "v2"), 1)
			return err
		}},
		{"AppendAudit", func(ctx context.Context, s store.Store) error {
			return s.AppendAudit(ctx, records(2, 2))
		}},
		{"AuditHead", func(ctx context.Context, s store.Store) error {
			_, err := s.AuditHead(ctx, alpha)
			return err
		}},
		{"QueryAudit", func(ctx context.Context, s store.Store) error {
			_, err := s.QueryAudit(ctx, store.AuditQuery{})
			return err
		}},
		{"CreateKey", func(ctx context.Context, s store.Store) error {
			return s.CreateKey(ctx, apiKey(acme, "key-new", 2, 1))
		}},
		{"KeyByHash", func(ctx context.Context, s store.Store) error {
			_, err := s.KeyByHash(ctx, keyHash(1))
			return err
		}},
		{"Key", func(ctx context.Context, s store.Store) error {
			_, err := s.Key(ctx, acme, "key-1")
			return err
		}},
		{"Keys", func(ctx context.Context, s store.Store) error {
			_, err := s.Keys(ctx, acme)
			return err
		}},
		{"CreateHop", func(ctx context.Context, s store.Store) error {
			return s.CreateHop(ctx, hop(acme, "hop-new", "hop-1", "tok-1", "key-1", 1))
		}},
		{"Hops", func(ctx context.Context, s store.Store) error {
			_, err := s.Hops(ctx, store.HopFilter{Tenant: acme})
			return err
		}},
	}
}

// seed stores what calls expects: a suspension, an expiring revocation, a
// pending and an approved approval, a policy, one audit record in each of
// two chains, a key and a hop.
func seed(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	ok(t, s.Suspend(ctx, block(acme, "suspended", 0)), "Suspend")
	r := block(acme, "revoked", 0)
	r.ExpiresAt = at(50)
	ok(t, s.Revoke(ctx, r), "Revoke")
	ok(t, s.CreateApproval(ctx, pendingApproval(acme, "pending", 1, 0)), "CreateApproval")
	ok(t, s.CreateApproval(ctx, pendingApproval(acme, "approved", 2, 0)), "CreateApproval")
	_, err := s.DecideApproval(ctx, acme, "approved", approve(at(5), at(600)))
	ok(t, err, "DecideApproval")
	_, err = s.PutPolicy(ctx, policy(acme, "v1"), 0)
	ok(t, err, "PutPolicy")
	ok(t, s.AppendAudit(ctx, records(1, 1)), "AppendAudit")
	ok(t, s.AppendAudit(ctx, chainRecords(bravo, 1, 1)), "AppendAudit")
	ok(t, s.CreateKey(ctx, apiKey(acme, "key-1", 1, 0)), "CreateKey")
	ok(t, s.CreateHop(ctx, hop(acme, "hop-1", "", "tok-1", "key-1", 0)), "CreateHop")
}

// contents is everything a store holds, as far as its methods show.
type contents struct {
	Blocks    []store.Block
	Approvals []store.Approval
	Policy    store.PolicyDoc
	Audit     []store.AuditRecord
	Keys      []store.Key
	Hops      []store.Hop
}

func dump(t *testing.T, s store.Store) contents {
	t.Helper()
	var c contents
	for _, b := range listBlocks(t, s, "") {
		c.Blocks = append(c.Blocks, normBlock(b))
	}
	as, err := s.Approvals(t.Context(), store.ApprovalFilter{})
	ok(t, err, "Approvals")
	for _, a := range as {
		c.Approvals = append(c.Approvals, normApproval(a))
	}
	p, err := s.Policy(t.Context(), acme)
	ok(t, err, "Policy")
	c.Policy = normPolicy(p)
	for _, r := range queryAudit(t, s, store.AuditQuery{}) {
		c.Audit = append(c.Audit, normRecord(r))
	}
	for _, k := range listKeys(t, s, acme) {
		c.Keys = append(c.Keys, normKey(k))
	}
	for _, h := range listHops(t, s, store.HopFilter{Tenant: acme}) {
		c.Hops = append(c.Hops, normHop(h))
	}
	return c
}

// testEveryMethodCovered keeps calls in step with the interface, so that a
// method added to store.Store is checked for Close and cancellation.
func testEveryMethodCovered(t *testing.T, e *env) {
	covered := map[string]bool{"Close": true}
	for _, c := range calls() {
		covered[c.method] = true
	}
	typ := reflect.TypeFor[store.Store]()
	for i := range typ.NumMethod() {
		if m := typ.Method(i).Name; !covered[m] {
			t.Errorf("storetest: calls() does not cover store.Store.%s", m)
		}
	}
	// Every call succeeds on a seeded, open store, so that the Closed and
	// CancelledContext cases test the state, not the arguments.
	seed(t, e.s)
	for _, c := range calls() {
		ok(t, c.run(t.Context(), e.s), c.method+" on a seeded store")
	}
}

func testClosed(t *testing.T, e *env) {
	seed(t, e.s)
	ok(t, e.s.Close(), "Close")
	for _, c := range calls() {
		if err := c.run(t.Context(), e.s); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: error = %v, want one wrapping %v", c.method, err, store.ErrClosed)
		}
	}
	if err := e.s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
}

func testCancelledContext(t *testing.T, e *env) {
	seed(t, e.s)
	before := dump(t, e.s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range calls() {
		if err := c.run(ctx, e.s); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error = %v, want one wrapping %v", c.method, err, context.Canceled)
		}
	}
	equal(t, "contents after calls with a cancelled context", dump(t, e.s), before)
}
