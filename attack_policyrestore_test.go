package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// restorable is a memory store whose policies can be put back to those
// of a backup, as restoring the database from one does under a running
// client.
type restorable struct {
	*memory.Store
	policies atomic.Pointer[memory.Store]
}

func (s *restorable) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	return s.policies.Load().Policy(ctx, tenant)
}

func (s *restorable) PutPolicy(ctx context.Context, doc store.PolicyDoc, expect int64) (store.PolicyDoc, error) {
	return s.policies.Load().PutPolicy(ctx, doc, expect)
}

// TestAttackPolicySavedAfterRestoreNotLive: the store is restored from a
// backup older than the live policy (version 3, which allows small
// charges). The operator reads the stored version and saves a policy
// that stops charges. SavePolicy (and so PUT /v1/policy) says the policy
// it saved is live when it returns; here it returned a version and no
// error, but the client kept enforcing the version 3 it had from before
// the restore, because the new version's number is not above it. Each
// case wants the deny enforced, or the save refused with ErrConflict and
// the store unchanged, so that the operator is not told a deny is in
// force while the charges go on.
func TestAttackPolicySavedAfterRestoreNotLive(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		backedUp int // versions the backup holds
		restore  bool
	}{
		{name: "restored to no policy", backedUp: 0, restore: true},
		{name: "restored to version 1", backedUp: 1, restore: true},
		{name: "restored to version 2", backedUp: 2, restore: true},
		{name: "not restored", backedUp: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &restorable{Store: memory.New()}
			st.policies.Store(memory.New())
			backup := memory.New()
			c, err := agenttrust.New(st)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for v := 1; v <= 3; v++ {
				body := fmt.Sprintf("%s\n# v%d\n", paymentsPolicy, v)
				if _, err := c.SavePolicy(ctx, []byte(body), "yaml", int64(v-1)); err != nil {
					t.Fatal(err)
				}
				if v <= tc.backedUp {
					if _, err := backup.PutPolicy(ctx, store.PolicyDoc{Tenant: agenttrust.DefaultTenant, Format: "yaml", Body: []byte(body)}, int64(v-1)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if d, err := c.Check(ctx, charge(1)); !d.Allowed() {
				t.Fatalf("before: %v %v", d, err)
			}
			if tc.restore {
				st.policies.Store(backup)
			}

			// The operator saves a deny on top of what the store holds.
			var expect int64
			if doc, err := st.Policy(ctx, agenttrust.DefaultTenant); err == nil {
				expect = doc.Version
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			v, err := c.SavePolicy(ctx, []byte(stopChargesPolicy), "yaml", expect)
			d, cerr := c.Check(ctx, charge(1))
			switch {
			case err == nil && d.Allowed():
				t.Fatalf("SavePolicy returned version %d and no error, but charges are still allowed (rule %q): the saved deny is not live", v, d.Rule)
			case err == nil:
				if d.Effect != agenttrust.Deny || d.Rule != "stop-charges" || cerr != nil {
					t.Errorf("check after the save: %+v %v, want a deny by stop-charges", d, cerr)
				}
			case !errors.Is(err, agenttrust.ErrConflict):
				t.Fatalf("SavePolicy: %v, want success or ErrConflict", err)
			default:
				doc, gerr := st.Policy(ctx, agenttrust.DefaultTenant)
				if gerr == nil && doc.Version != expect || gerr != nil && expect != 0 {
					t.Errorf("refused with %v, but the store changed: version %d, %v", err, doc.Version, gerr)
				}
			}
		})
	}
}
