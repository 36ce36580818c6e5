package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// hopFailStore is a memory store whose next CreateHop fails, with an
// error (fail 1), a panic (fail 2) or the caller's context ending
// (fail 3: the caller gives up while the hop is being stored).
type hopFailStore struct {
	*memory.Store
	fail   atomic.Int32
	cancel context.CancelFunc
}

func (s *hopFailStore) CreateHop(ctx context.Context, h store.Hop) error {
	switch s.fail.Swap(0) {
	case 1:
		return errors.New("connection reset")
	case 2:
		panic("store CreateHop exploded")
	case 3:
		s.cancel()
		return ctx.Err()
	case 4:
		s.fail.Store(5) // and the give-back fails too
		return errors.New("connection reset")
	}
	return s.Store.CreateHop(ctx, h)
}

func (s *hopFailStore) ReleaseBudget(ctx context.Context, tenant, id string) (int, error) {
	if s.fail.CompareAndSwap(5, 0) {
		return 0, errors.New("connection reset")
	}
	return s.Store.ReleaseBudget(ctx, tenant, id)
}

// TestAttackDelegateCarveLeak: Delegate carves the new hop's budget out
// of its parent's before it stores the hop. When storing the hop failed
// (a store error, or a panic), the delegation failed but the carve-out
// stayed taken: no hop, no token, and the parent's budget short by it
// for good. A flaky store (or an agent that can provoke failures, a hop
// too long for a column) drained a key's budget with delegations that
// never happened. The failed delegation must leave the parent's budget
// whole, so a delegation of all of it succeeds afterwards; when the
// carve-out cannot be given back either, the note of the failed
// delegation says so.
func TestAttackDelegateCarveLeak(t *testing.T) {
	cases := []struct {
		name string
		fail int32
		want error
		held bool // the give-back fails too
	}{
		{name: "CreateHop fails", fail: 1, want: agenttrust.ErrStoreUnavailable},
		{name: "CreateHop panics", fail: 2, want: agenttrust.ErrInvalidConfig},
		{name: "the caller gives up storing the hop", fail: 3, want: context.Canceled},
		{name: "CreateHop and the give-back fail", fail: 4, want: agenttrust.ErrStoreUnavailable, held: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &hopFailStore{Store: memory.New()}
			f := &fixture{st: st, clock: newTestClock(), audit: agenttrust.NewMemorySink(1000)}
			var err error
			f.c, err = agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, budgetPolicy)),
				agenttrust.WithClock(f.clock.Now), agenttrust.WithRandom(newSeededRandom()),
				agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{f.audit}}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.c.Close() })
			secret, keyID := budgetKey(t, f, "budget calls <= 10")
			tok, err := f.c.Exchange(t.Context(), secret)
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			st.cancel = cancel
			st.fail.Store(tc.fail)
			within(t, "Delegate", func() { _, _, err = f.c.Delegate(ctx, tok, 0, "budget calls <= 4") })
			if !errors.Is(err, tc.want) {
				t.Fatalf("Delegate = %v; want an error matching %v", err, tc.want)
			}
			if tc.held {
				// The carve-out stays held; the note must tell of it.
				told := 0
				for _, rec := range f.records(t) {
					if rec.Tool == "agenttrust.delegate" && rec.Effect == agenttrust.Deny && strings.Contains(rec.Reason, "not given back") {
						told++
					}
				}
				if told != 1 {
					t.Fatalf("%d notes of the failed delegation tell of the carve-out held; want 1", told)
				}
				if got := remaining(t, f, keyID, "calls"); got != 6 {
					t.Fatalf("the key has %d calls left; want 6", got)
				}
				return
			}
			if got := remaining(t, f, keyID, "calls"); got != 10 {
				t.Fatalf("the key has %d calls left after a delegation that failed; want 10", got)
			}
			if _, _, err := f.c.Delegate(t.Context(), tok, 0, "budget calls <= 10"); err != nil {
				t.Fatalf("Delegate of the whole budget after the failure: %v", err)
			}
			// The failed delegation is noted as not performed.
			notes := 0
			for _, rec := range f.records(t) {
				if rec.Tool == "agenttrust.delegate" && rec.Effect == agenttrust.Deny {
					notes++
				}
			}
			if notes != 1 {
				t.Fatalf("the trail holds %d notes of a delegation not performed; want 1", notes)
			}
			if got := remaining(t, f, keyID, "calls"); got != 0 {
				t.Fatalf("the key has %d calls left after delegating all 10", got)
			}
		})
	}
}
