package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// opsDownStore fails every suspension, resumption and revocation as a
// database driver words a lost link (errSuspendDown), once down.
type opsDownStore struct {
	*memory.Store
	down *atomic.Bool
}

func (s opsDownStore) Suspend(ctx context.Context, b store.Block) error {
	if s.down.Load() {
		return errSuspendDown
	}
	return s.Store.Suspend(ctx, b)
}

func (s opsDownStore) Revoke(ctx context.Context, b store.Block) error {
	if s.down.Load() {
		return errSuspendDown
	}
	return s.Store.Revoke(ctx, b)
}

func (s opsDownStore) Resume(ctx context.Context, tenant, id string) error {
	if s.down.Load() {
		return errSuspendDown
	}
	return s.Store.Resume(ctx, tenant, id)
}

// TestAttackOperatorRecordStoreError: an operator action that fails
// after its record (the store down) is noted by a Deny record, whose
// reason quoted the action's error: a store's, naming the database's
// user, name, host, port and address, went into the tenant's audit trail,
// which the tenant's admins read and export (GET /v1/audit), though a
// store failure's text is promised to reach only the operator's log. The
// note must say the store failed, and the action must still fail with
// ErrStoreUnavailable.
func TestAttackOperatorRecordStoreError(t *testing.T) {
	ctx := context.Background()
	for name, act := range map[string]func(*agenttrust.Client) error{
		"suspend": func(c *agenttrust.Client) error { return c.Suspend(ctx, "bot", "runaway") },
		"resume":  func(c *agenttrust.Client) error { return c.Resume(ctx, "bot") },
		"revoke":  func(c *agenttrust.Client) error { return c.Revoke(ctx, "bot") },
	} {
		t.Run(name, func(t *testing.T) {
			sink := agenttrust.NewMemorySink(100)
			var down atomic.Bool
			c, err := agenttrust.New(opsDownStore{memory.New(), &down}, agenttrust.WithClock(newTestClock().Now),
				agenttrust.WithRandom(newSeededRandom()), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if name == "resume" {
				// Something to resume: a Resume that fails on a store
				// still holding the suspension is reported failed (one
				// whose answer alone was lost is read back as done).
				if err := c.Suspend(ctx, "bot", "runaway"); err != nil {
					t.Fatal(err)
				}
			}
			down.Store(true)
			if err := act(c); !errors.Is(err, agenttrust.ErrStoreUnavailable) {
				t.Fatalf("the action: %v, want ErrStoreUnavailable", err)
			}
			if err := c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			noted := false
			for _, r := range sink.Records() {
				if r.Effect == agenttrust.Deny {
					noted = true
				}
				for _, part := range []string{"leakuser", "leakdb", "db.internal.example", "6543", "10.9.8.7"} {
					if strings.Contains(fmt.Sprintf("%+v", r), part) {
						t.Errorf("an audit record holds the store's error: %+v", r)
						break
					}
				}
			}
			if !noted {
				t.Errorf("no Deny record notes the failed action: %+v", sink.Records())
			}
		})
	}
}
