// Package storefaults holds the SQL stores' suites beyond the
// conformance suite. Run is the fault suite: each store runs it with a
// store reached through a faultproxy, which the suite cuts, stalls and
// slows. Every method must then fail with store.ErrUnavailable within the
// store's query timeout plus a margin, and work again by itself once the
// link is restored; a Watch must end with ErrUnavailable and work again
// after; a caller's own context is reported as such. AuditLoss holds a
// store to appending an oversized audit batch whole or not at all.
package storefaults

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/store"
)

// Store is a store with a change feed, as the SQL stores are.
type Store interface {
	store.Store
	store.Watcher
}

// Config is how a store runs the suite.
type Config struct {
	// Open returns a store on fresh state reached through a new proxy,
	// closed when t ends, with its query timeout set to Timeout and its
	// feed checked every Feed.
	Open func(t *testing.T) (Store, *faultproxy.Proxy)
	// Timeout is the store's query timeout; Margin how late past it a
	// failing call may return on a busy machine.
	Timeout, Margin time.Duration
	// Feed is the feed's heartbeat or poll interval: how long a stalled
	// feed may go unnoticed.
	Feed time.Duration
	// CutNoticed is how soon Watch must end after a cut: Margin for a feed
	// on a connection of its own, which sees the close; Feed plus Margin
	// for a polled one.
	CutNoticed time.Duration
}

// Run runs every case of the suite as a subtest of t.
func Run(t *testing.T, c Config) {
	t.Run("Faults", func(t *testing.T) { faults(t, c) })
	t.Run("CutWhileIdle", func(t *testing.T) { cutWhileIdle(t, c) })
	t.Run("SlowLink", func(t *testing.T) { slowLink(t, c) })
	t.Run("CallerContext", func(t *testing.T) { callerContext(t, c) })
	t.Run("WatchFaults", func(t *testing.T) { watchFaults(t, c) })
	t.Run("WatchIdle", func(t *testing.T) { watchIdle(t, c) })
}

// faultCall is one call of a store method; round r names what it touches,
// so that the calls of a round, in order, all succeed on a healthy store.
type faultCall struct {
	method string
	run    func(ctx context.Context, s Store, r int) error
}

func faultCalls() []faultCall {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	id := func(kind string, r int) string { return fmt.Sprintf("%s-%d", kind, r) }
	hash := func(r int) [32]byte { return sha256.Sum256([]byte(id("secret", r))) }
	return []faultCall{
		{"Revoke", func(ctx context.Context, s Store, r int) error {
			return s.Revoke(ctx, store.Block{Tenant: "acme", ID: id("tok", r), ExpiresAt: at})
		}},
		{"Blocked", func(ctx context.Context, s Store, r int) error {
			_, _, err := s.Blocked(ctx, "acme", []string{"agent", id("tok", r)})
			return err
		}},
		{"Blocks", func(ctx context.Context, s Store, r int) error {
			_, err := s.Blocks(ctx, "acme")
			return err
		}},
		{"Suspend", func(ctx context.Context, s Store, r int) error {
			return s.Suspend(ctx, store.Block{Tenant: "acme", ID: id("agent", r)})
		}},
		{"Resume", func(ctx context.Context, s Store, r int) error {
			return s.Resume(ctx, "acme", id("agent", r))
		}},
		{"PruneRevocations", func(ctx context.Context, s Store, r int) error {
			_, err := s.PruneRevocations(ctx, at)
			return err
		}},
		{"CreateApproval", func(ctx context.Context, s Store, r int) error {
			return s.CreateApproval(ctx, store.Approval{ID: id("ap", r), Tenant: "acme", Fingerprint: id("fp", r), CreatedAt: at, ExpiresAt: at.Add(time.Hour)})
		}},
		{"Approval", func(ctx context.Context, s Store, r int) error {
			_, err := s.Approval(ctx, "acme", id("ap", r))
			return err
		}},
		{"Approvals", func(ctx context.Context, s Store, r int) error {
			_, err := s.Approvals(ctx, store.ApprovalFilter{Tenant: "acme"})
			return err
		}},
		{"PendingApproval", func(ctx context.Context, s Store, r int) error {
			_, err := s.PendingApproval(ctx, "acme", id("fp", r), at)
			return err
		}},
		{"DecideApproval", func(ctx context.Context, s Store, r int) error {
			_, err := s.DecideApproval(ctx, "acme", id("ap", r), store.ApprovalDecision{Status: store.ApprovalApproved, At: at, GrantExpiresAt: at.Add(time.Hour)})
			return err
		}},
		{"ConsumeApproval", func(ctx context.Context, s Store, r int) error {
			_, err := s.ConsumeApproval(ctx, "acme", id("fp", r), at)
			return err
		}},
		{"PutPolicy", func(ctx context.Context, s Store, r int) error {
			_, err := s.PutPolicy(ctx, store.PolicyDoc{Tenant: id("tenant", r), Body: []byte("p")}, 0)
			return err
		}},
		{"Policy", func(ctx context.Context, s Store, r int) error {
			_, err := s.Policy(ctx, id("tenant", r))
			return err
		}},
		{"AppendAudit", func(ctx context.Context, s Store, r int) error {
			return s.AppendAudit(ctx, []store.AuditRecord{{Chain: id("chain", r), Seq: 1, Time: at}})
		}},
		{"AuditHead", func(ctx context.Context, s Store, r int) error {
			_, err := s.AuditHead(ctx, id("chain", r))
			return err
		}},
		{"QueryAudit", func(ctx context.Context, s Store, r int) error {
			_, err := s.QueryAudit(ctx, store.AuditQuery{Chain: id("chain", r)})
			return err
		}},
		{"CreateKey", func(ctx context.Context, s Store, r int) error {
			return s.CreateKey(ctx, store.Key{ID: id("key", r), Tenant: "acme", Hash: hash(r)})
		}},
		{"KeyByHash", func(ctx context.Context, s Store, r int) error {
			_, err := s.KeyByHash(ctx, hash(r))
			return err
		}},
		{"Key", func(ctx context.Context, s Store, r int) error {
			_, err := s.Key(ctx, "acme", id("key", r))
			return err
		}},
		{"Keys", func(ctx context.Context, s Store, r int) error {
			_, err := s.Keys(ctx, "acme")
			return err
		}},
		{"CreateHop", func(ctx context.Context, s Store, r int) error {
			return s.CreateHop(ctx, store.Hop{ID: id("hop", r), Tenant: "acme", TokenID: id("tok", r)})
		}},
		{"Hops", func(ctx context.Context, s Store, r int) error {
			_, err := s.Hops(ctx, store.HopFilter{Tenant: "acme", TokenID: id("tok", r)})
			return err
		}},
		{"Mark", func(ctx context.Context, s Store, r int) error {
			return s.Mark(ctx, id("mark", r))
		}},
	}
}

// healthy runs round r of the calls in order and fails t unless each
// succeeds.
func healthy(t *testing.T, s Store, r int, when string) {
	t.Helper()
	for _, c := range faultCalls() {
		if err := c.run(t.Context(), s, r); err != nil {
			t.Fatalf("%s %s: %v", c.method, when, err)
		}
	}
}

// unavailable runs every call at once, with round r, and fails t unless
// each fails with ErrUnavailable within the query timeout plus the
// margin.
func unavailable(t *testing.T, c Config, s Store, r int, fault string) {
	t.Helper()
	calls := faultCalls()
	errs := make([]error, len(calls))
	took := make([]time.Duration, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() {
			start := time.Now()
			errs[i] = call.run(t.Context(), s, r)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	slowest := 0
	for i := range calls {
		if took[i] > took[slowest] {
			slowest = i
		}
	}
	t.Logf("%s: slowest call %s failed after %v (timeout %v)", fault, calls[slowest].method, took[slowest], c.Timeout)
	for i, call := range calls {
		if !errors.Is(errs[i], store.ErrUnavailable) {
			t.Errorf("%s %s: error = %v, want one wrapping %v", call.method, fault, errs[i], store.ErrUnavailable)
		}
		if took[i] > c.Timeout+c.Margin {
			t.Errorf("%s %s: took %v, want at most the timeout %v plus %v", call.method, fault, took[i], c.Timeout, c.Margin)
		}
	}
}

func faults(t *testing.T, c Config) {
	for _, tc := range []struct {
		name  string
		fault func(p *faultproxy.Proxy)
	}{
		{"Cut", (*faultproxy.Proxy).Cut},
		{"Stall", (*faultproxy.Proxy).Stall},
		{"SlowerThanTimeout", func(p *faultproxy.Proxy) { p.Delay(2 * c.Timeout) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := c.Open(t)
			healthy(t, s, 0, "before the fault")
			for round := 1; round <= 2; round++ {
				tc.fault(p)
				unavailable(t, c, s, 1000+round, "during "+tc.name)
				p.Restore()
				healthy(t, s, round, "after Restore")
			}
		})
	}
}

// A fault that starts while connections sit idle in the pool, with no call
// during it, is healed on the next call: no call fails after Restore.
func cutWhileIdle(t *testing.T, c Config) {
	s, p := c.Open(t)
	// Fill the pool with idle connections.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for _, call := range faultCalls() {
				if err := call.run(t.Context(), s, 100+i); err != nil {
					t.Errorf("%s filling the pool: %v", call.method, err)
				}
			}
		})
	}
	wg.Wait()
	p.Cut()
	p.Restore()
	healthy(t, s, 1, "after a cut while idle")
	if _, refused := p.Accepted(); refused != 0 {
		t.Errorf("%d connections refused", refused)
	}
}

// A link slower than usual but within the timeout only slows the store.
func slowLink(t *testing.T, c Config) {
	s, p := c.Open(t)
	healthy(t, s, 0, "before the delay")
	p.Delay(c.Timeout / 20)
	start := time.Now()
	healthy(t, s, 1, "on a slow link")
	if took := time.Since(start); took < c.Timeout/20 {
		t.Errorf("calls on a slow link took %v, less than the delay", took)
	}
}

// A cancelled or expired caller's context is reported as such, not as the
// store's failure, even while the link is down.
func callerContext(t *testing.T, c Config) {
	s, p := c.Open(t)
	healthy(t, s, 0, "before the fault")
	p.Stall()
	defer p.Restore()

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := s.Blocked(ctx, "acme", []string{"x"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Blocked cancelled during a stall: error = %v, want one wrapping %v", err, context.Canceled)
	}
	if took := time.Since(start); took > c.Timeout {
		t.Errorf("Blocked cancelled after 50ms returned after %v", took)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, _, err = s.Blocked(ctx, "acme", []string{"x"})
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Blocked past the caller's deadline during a stall: error = %v, want one wrapping %v and %v",
			err, store.ErrUnavailable, context.DeadlineExceeded)
	}
}

// StartWatch runs Watch on s in the background and returns once it
// delivers a marker: it is listening then. Watch ends when t does.
func StartWatch(t *testing.T, s Store) (changes <-chan store.Change, done <-chan error) {
	t.Helper()
	ch := make(chan store.Change, 1024)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	go func() { errc <- s.Watch(ctx, func(c store.Change) { ch <- c }) }()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		token := fmt.Sprint("sync-", i)
		if err := s.Mark(t.Context(), token); err != nil {
			t.Fatalf("Mark: %v", err)
		}
		timer := time.NewTimer(20 * time.Millisecond)
		select {
		case c := <-ch:
			timer.Stop()
			if c.Kind == store.ChangeMark && strings.HasPrefix(c.ID, "sync-") {
				drain(ch)
				return ch, errc
			}
		case err := <-errc:
			t.Fatalf("Watch returned while starting: %v", err)
		case <-timer.C:
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch delivered no marker within 10s")
		}
	}
}

func drain(ch chan store.Change) {
	for {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func watchFaults(t *testing.T, c Config) {
	for _, tc := range []struct {
		name   string
		fault  func(p *faultproxy.Proxy)
		within time.Duration
	}{
		{"Cut", (*faultproxy.Proxy).Cut, c.CutNoticed},
		{"Stall", (*faultproxy.Proxy).Stall, c.Feed + c.Timeout + c.Margin},
		{"SlowerThanTimeout", func(p *faultproxy.Proxy) { p.Delay(2 * c.Timeout) }, c.Feed + c.Timeout + c.Margin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := c.Open(t)
			_, done := StartWatch(t, s)
			start := time.Now()
			tc.fault(p)
			select {
			case err := <-done:
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("Watch after %s: error = %v, want one wrapping %v", tc.name, err, store.ErrUnavailable)
				}
				if took := time.Since(start); took > tc.within {
					t.Errorf("Watch returned %v after %s, want within %v", took, tc.name, tc.within)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Watch did not return within 10s of %s", tc.name)
			}
			p.Restore()
			changes, _ := StartWatch(t, s)
			healthyWrite(t, func() error { return s.Revoke(t.Context(), store.Block{Tenant: "acme", ID: "after"}) })
			select {
			case c := <-changes:
				if c != (store.Change{Kind: store.ChangeBlock, Tenant: "acme", ID: "after"}) {
					t.Errorf("Watch after Restore delivered %+v", c)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Watch after Restore delivered nothing")
			}
		})
	}
}

// healthyWrite runs an idempotent write on a store whose database is
// healthy. The fault tests' query timeout is short, and a busy machine can
// exceed it even so; these writes only set up what the test watches for,
// so a timed-out attempt is retried (it may have landed: the write is
// idempotent) rather than failing the test.
func healthyWrite(t *testing.T, write func() error) {
	t.Helper()
	var err error
	for range 5 {
		if err = write(); !errors.Is(err, store.ErrUnavailable) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A Watch that is idle but healthy outlives many beats of its feed.
func watchIdle(t *testing.T, c Config) {
	s, _ := c.Open(t)
	changes, done := StartWatch(t, s)
	select {
	case err := <-done:
		t.Fatalf("idle Watch returned: %v", err)
	case <-time.After(4 * c.Feed):
	}
	healthyWrite(t, func() error { return s.Suspend(t.Context(), store.Block{Tenant: "acme", ID: "agent-1"}) })
	select {
	case c := <-changes:
		if c != (store.Change{Kind: store.ChangeBlock, Tenant: "acme", ID: "agent-1"}) {
			t.Errorf("Watch delivered %+v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch delivered nothing after an idle while")
	}
}
