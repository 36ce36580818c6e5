package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The Watch cases run on stores that implement store.Watcher and are
// skipped on the others.

func watchCases() []testCase {
	return []testCase{
		{name: "Blocks", run: testWatchBlocks},
		{name: "Prune", run: testWatchPrune},
		{name: "Policies", run: testWatchPolicies},
		{name: "OnlyChanges", run: testWatchOnlyChanges},
		{name: "MarkAfterEarlierChanges", run: testWatchMarkAfterEarlierChanges},
		{name: "MarkAfterConcurrentChanges", run: testWatchMarkAfterConcurrentChanges},
		{name: "TwoWatchers", run: testWatchTwoWatchers},
		{name: "ContextEnds", run: testWatchContextEnds},
		{name: "NoCallAfterCancel", run: testWatchNoCallAfterCancel},
		{name: "CancelledContext", run: testWatchCancelledContext},
		{name: "Close", run: testWatchClose},
	}
}

const (
	// watchTimeout bounds each wait on a Watch, for a change or for its
	// return. It only turns a hang into a failure: a case that passes
	// waits no longer than the store takes to deliver.
	watchTimeout = 10 * time.Second
	// syncEvery is how often startWatch repeats its marker until the new
	// Watch delivers one.
	syncEvery = 10 * time.Millisecond
	// syncPrefix begins the tokens of the markers startWatch sends; the
	// cases do not see them.
	syncPrefix = "storetest-sync-"
	// watchBuffer is how many changes a watching holds unread.
	watchBuffer = 4096
)

// watcherOf returns s as a store.Watcher, or skips the case.
func watcherOf(t *testing.T, s store.Store) store.Watcher {
	t.Helper()
	w, isWatcher := s.(store.Watcher)
	if !isWatcher {
		t.Skip("storetest: the store does not implement store.Watcher")
	}
	return w
}

// watching is a running Watch and what it delivered.
type watching struct {
	name    string
	changes chan store.Change
	done    chan struct{} // closed when Watch has returned
	err     error         // Watch's result, set before done is closed
	cancel  context.CancelFunc

	busy    atomic.Bool // fn is running
	overlap atomic.Bool // fn was called while it was running
	dropped atomic.Bool // changes was full
}

// startWatch starts a Watch of w named name and returns once it listens:
// it sends markers until one comes through. It stops the Watch when the
// case ends.
func startWatch(t *testing.T, w store.Watcher, name string) *watching {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	wt := &watching{name: name, changes: make(chan store.Change, watchBuffer), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(wt.done)
		wt.err = w.Watch(ctx, wt.deliver)
	}()
	t.Cleanup(func() {
		cancel()
		if !wt.returned(watchTimeout) {
			t.Errorf("storetest: Watch %s did not return within %v of its context ending", name, watchTimeout)
		}
	})

	prefix := syncPrefix + name + "-"
	tick := time.NewTicker(syncEvery)
	defer tick.Stop()
	deadline := time.NewTimer(watchTimeout)
	defer deadline.Stop()
	for i := 0; ; i++ {
		ok(t, w.Mark(t.Context(), fmt.Sprint(prefix, i)), "Mark")
		select {
		case c := <-wt.changes:
			switch {
			case c.Kind == store.ChangeMark && strings.HasPrefix(c.ID, prefix):
				wt.check(t)
				return wt
			case c.Kind != store.ChangeMark || !strings.HasPrefix(c.ID, syncPrefix):
				t.Fatalf("Watch %s delivered %s before any change was made", name, showChange(c))
			}
		case <-wt.done:
			t.Fatalf("Watch %s returned %v while starting", name, wt.err)
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("Watch %s delivered none of %d markers within %v", name, i+1, watchTimeout)
		}
	}
}

// deliver is the func given to Watch.
func (wt *watching) deliver(c store.Change) {
	if wt.busy.Swap(true) {
		wt.overlap.Store(true)
	}
	select {
	case wt.changes <- c:
	default:
		wt.dropped.Store(true)
	}
	wt.busy.Store(false)
}

func (wt *watching) check(t *testing.T) {
	t.Helper()
	if wt.overlap.Load() {
		t.Errorf("Watch %s called its func again before the last call returned", wt.name)
	}
	if wt.dropped.Load() {
		t.Fatalf("storetest: Watch %s delivered more than %d changes unread", wt.name, watchBuffer)
	}
}

// returned reports whether Watch returns within d.
func (wt *watching) returned(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-wt.done:
		return true
	case <-timer.C:
		return false
	}
}

// next returns the next change delivered, skipping startWatch's markers.
func (wt *watching) next(t *testing.T, what string) store.Change {
	t.Helper()
	timer := time.NewTimer(watchTimeout)
	defer timer.Stop()
	for {
		var c store.Change
		select {
		case c = <-wt.changes:
		default:
			select {
			case c = <-wt.changes:
			case <-wt.done:
				select {
				case c = <-wt.changes: // delivered before Watch returned
				default:
					t.Fatalf("%s: Watch %s returned %v", what, wt.name, wt.err)
				}
			case <-timer.C:
				t.Fatalf("%s: Watch %s delivered nothing within %v", what, wt.name, watchTimeout)
			}
		}
		wt.check(t)
		if c.Kind == store.ChangeMark && strings.HasPrefix(c.ID, syncPrefix) {
			continue
		}
		return c
	}
}

// expect fails the case unless the next changes delivered are want, in
// order.
func (wt *watching) expect(t *testing.T, what string, want ...store.Change) {
	t.Helper()
	for i, w := range want {
		if got := wt.next(t, what); got != w {
			t.Fatalf("%s: Watch %s delivered %s as change %d, want %s", what, wt.name, showChange(got), i, showChange(w))
		}
	}
}

// stop cancels the Watch and returns its error.
func (wt *watching) stop(t *testing.T) error {
	t.Helper()
	wt.cancel()
	if !wt.returned(watchTimeout) {
		t.Fatalf("Watch %s did not return within %v of its context ending", wt.name, watchTimeout)
	}
	return wt.err
}

func blockChange(tenant, id string) store.Change {
	return store.Change{Kind: store.ChangeBlock, Tenant: tenant, ID: id}
}

func policyChange(tenant string) store.Change {
	return store.Change{Kind: store.ChangePolicy, Tenant: tenant}
}

func markChange(token string) store.Change {
	return store.Change{Kind: store.ChangeMark, ID: token}
}

func showChange(c store.Change) string {
	kind := map[store.ChangeKind]string{store.ChangeBlock: "block", store.ChangePolicy: "policy", store.ChangeMark: "mark"}[c.Kind]
	if kind == "" {
		kind = fmt.Sprint("kind ", c.Kind)
	}
	return fmt.Sprintf("{%s tenant %q id %q}", kind, c.Tenant, c.ID)
}

func mark(t *testing.T, w store.Watcher, token string) {
	t.Helper()
	ok(t, w.Mark(t.Context(), token), "Mark "+token)
}

// Revoke, Suspend and Resume each deliver a ChangeBlock, in order.
func testWatchBlocks(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	wt := startWatch(t, w, "w")
	ok(t, e.s.Revoke(ctx, block(acme, "tok-1", 0)), "Revoke")
	ok(t, e.s.Suspend(ctx, block(acme, "agent-1", 1)), "Suspend")
	ok(t, e.s.Suspend(ctx, block(globex, "agent-1", 2)), "Suspend")
	ok(t, e.s.Resume(ctx, acme, "agent-1"), "Resume")
	ok(t, e.s.Revoke(ctx, block("", "tok-2", 3)), "Revoke in the empty tenant")
	mark(t, w, "m1")
	wt.expect(t, "Watch of block writes",
		blockChange(acme, "tok-1"),
		blockChange(acme, "agent-1"),
		blockChange(globex, "agent-1"),
		blockChange(acme, "agent-1"),
		blockChange("", "tok-2"),
		markChange("m1"),
	)
}

// A revocation removed by PruneRevocations is a block lifted.
func testWatchPrune(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	expiring := block(acme, "tok-1", 0)
	expiring.ExpiresAt = at(50)
	ok(t, e.s.Revoke(ctx, expiring), "Revoke")
	lasting := block(acme, "tok-2", 0)
	lasting.ExpiresAt = at(200)
	ok(t, e.s.Revoke(ctx, lasting), "Revoke")

	wt := startWatch(t, w, "w")
	n, err := e.s.PruneRevocations(ctx, at(100))
	ok(t, err, "PruneRevocations")
	if n != 1 {
		t.Fatalf("PruneRevocations = %d, want 1", n)
	}
	_, err = e.s.PruneRevocations(ctx, at(100))
	ok(t, err, "PruneRevocations again")
	mark(t, w, "m1")
	wt.expect(t, "Watch of PruneRevocations", blockChange(acme, "tok-1"), markChange("m1"))
}

// PutPolicy delivers a ChangePolicy, in order.
func testWatchPolicies(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	wt := startWatch(t, w, "w")
	_, err := e.s.PutPolicy(ctx, policy(acme, "acme v1"), 0)
	ok(t, err, "PutPolicy")
	_, err = e.s.PutPolicy(ctx, policy(globex, "globex v1"), 0)
	ok(t, err, "PutPolicy")
	_, err = e.s.PutPolicy(ctx, policy(acme, "acme v2"), 1)
	ok(t, err, "PutPolicy")
	mark(t, w, "m1")
	wt.expect(t, "Watch of policy writes", policyChange(acme), policyChange(globex), policyChange(acme), markChange("m1"))
}

// Refused writes, writes of other kinds and reads deliver nothing.
func testWatchOnlyChanges(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	seed(t, e.s)
	wt := startWatch(t, w, "w")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_ = e.s.Revoke(cancelled, block(acme, "cancelled", 1))
	_ = e.s.Revoke(ctx, block(acme, "", 1))
	_ = e.s.Resume(ctx, acme, "nobody")
	_, _ = e.s.PutPolicy(ctx, policy(acme, "stale"), 7)
	_, _, _ = e.s.Blocked(ctx, acme, []string{"suspended", "revoked"})
	_, _ = e.s.Blocks(ctx, "")
	_, _ = e.s.Policy(ctx, acme)
	ok(t, e.s.CreateApproval(ctx, pendingApproval(acme, "ap-new", 5, 1)), "CreateApproval")
	_, err := e.s.DecideApproval(ctx, acme, "pending", approve(at(10), at(600)))
	ok(t, err, "DecideApproval")
	_, err = e.s.ConsumeApproval(ctx, acme, fingerprint(2), at(20))
	ok(t, err, "ConsumeApproval")
	ok(t, e.s.AppendAudit(ctx, records(2, 2)), "AppendAudit")
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-new", 2, 1)), "CreateKey")
	ok(t, e.s.CreateHop(ctx, hop(acme, "hop-new", "hop-1", "tok-1", "key-1", 1)), "CreateHop")
	mark(t, w, "m1")
	wt.expect(t, "Watch of refused writes and of other writes", markChange("m1"))
}

// A marker comes after every change committed before Mark returned, and
// before any committed after.
func testWatchMarkAfterEarlierChanges(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	wt := startWatch(t, w, "w")
	mark(t, w, "m0")
	ok(t, e.s.Revoke(ctx, block(acme, "a", 0)), "Revoke")
	mark(t, w, "m1")
	ok(t, e.s.Suspend(ctx, block(acme, "b", 1)), "Suspend")
	_, err := e.s.PutPolicy(ctx, policy(acme, "v1"), 0)
	ok(t, err, "PutPolicy")
	mark(t, w, "m2")
	mark(t, w, "m3")
	ok(t, e.s.Resume(ctx, acme, "b"), "Resume")
	mark(t, w, "m4")
	wt.expect(t, "Watch",
		markChange("m0"),
		blockChange(acme, "a"),
		markChange("m1"),
		blockChange(acme, "b"),
		policyChange(acme),
		markChange("m2"),
		markChange("m3"),
		blockChange(acme, "b"),
		markChange("m4"),
	)
}

// Of many concurrent writers, every change committed before Mark returned
// comes before the marker, each once.
func testWatchMarkAfterConcurrentChanges(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	wt := startWatch(t, w, "w")
	want := map[store.Change]int{}
	for g := range goroutines {
		for i := range perWorker {
			want[blockChange(acme, fmt.Sprintf("r-%d-%d", g, i))] = 1
			want[blockChange(globex, fmt.Sprintf("s-%d-%d", g, i))] = 1
		}
	}
	each(func(g, i int) {
		if err := e.s.Revoke(ctx, block(acme, fmt.Sprintf("r-%d-%d", g, i), i)); err != nil {
			t.Errorf("Revoke: %v", err)
		}
		if err := e.s.Suspend(ctx, block(globex, fmt.Sprintf("s-%d-%d", g, i), i)); err != nil {
			t.Errorf("Suspend: %v", err)
		}
	})
	if t.Failed() {
		return
	}
	mark(t, w, "after")
	got := map[store.Change]int{}
	for {
		c := wt.next(t, "Watch of concurrent writes")
		if c == markChange("after") {
			break
		}
		got[c]++
	}
	if len(got) != len(want) {
		t.Errorf("Watch delivered %d distinct changes before the marker, want %d", len(got), len(want))
	}
	for c, n := range got {
		if want[c] != n {
			t.Errorf("Watch delivered %s %d times before the marker, want %d", showChange(c), n, want[c])
		}
	}
	for c := range want {
		if got[c] == 0 {
			t.Errorf("Watch did not deliver %s before the marker", showChange(c))
		}
	}
}

// Every watcher sees every change, and one ending leaves the others.
func testWatchTwoWatchers(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	w1 := startWatch(t, w, "w1")
	w2 := startWatch(t, w, "w2")
	ok(t, e.s.Revoke(ctx, block(acme, "tok-1", 0)), "Revoke")
	_, err := e.s.PutPolicy(ctx, policy(globex, "v1"), 0)
	ok(t, err, "PutPolicy")
	ok(t, e.s.Suspend(ctx, block(acme, "agent-1", 1)), "Suspend")
	mark(t, w, "m1")
	want := []store.Change{blockChange(acme, "tok-1"), policyChange(globex), blockChange(acme, "agent-1"), markChange("m1")}
	w1.expect(t, "first watcher", want...)
	w2.expect(t, "second watcher", want...)

	isErr(t, w1.stop(t), context.Canceled, "Watch w1 after its context was cancelled")
	ok(t, e.s.Resume(ctx, acme, "agent-1"), "Resume")
	mark(t, w, "m2")
	w2.expect(t, "second watcher after the first ended", blockChange(acme, "agent-1"), markChange("m2"))
}

// Watch returns when its context ends, with the context's error, and the
// store goes on without it.
func testWatchContextEnds(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	wt := startWatch(t, w, "w")
	ok(t, e.s.Revoke(ctx, block(acme, "tok-1", 0)), "Revoke")
	isErr(t, wt.stop(t), context.Canceled, "Watch after its context was cancelled")
	ok(t, e.s.Revoke(ctx, block(acme, "tok-2", 0)), "Revoke after the Watch ended")
	mark(t, w, "m1")
	blocked(t, e.s, acme, []string{"tok-2"}, "tok-2", store.Revoked)

	deadline, cancel := context.WithDeadline(ctx, time.Unix(0, 0)) // long past
	defer cancel()
	err := callWatch(t, w, deadline)
	isErr(t, err, context.DeadlineExceeded, "Watch with a context past its deadline")
}

// With a context already cancelled, Watch and Mark fail with
// context.Canceled.
func testWatchCancelledContext(t *testing.T, e *env) {
	w := watcherOf(t, e.s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	isErr(t, callWatch(t, w, ctx), context.Canceled, "Watch with a cancelled context")
	isErr(t, w.Mark(ctx, "m1"), context.Canceled, "Mark with a cancelled context")
}

// Close ends a running Watch with an error; after it Watch and Mark fail
// with ErrClosed.
func testWatchClose(t *testing.T, e *env) {
	w := watcherOf(t, e.s)
	wt := startWatch(t, w, "w")
	ok(t, e.s.Close(), "Close")
	if !wt.returned(watchTimeout) {
		t.Fatalf("Watch did not return within %v of Close", watchTimeout)
	}
	if wt.err == nil || !(errors.Is(wt.err, store.ErrClosed) || errors.Is(wt.err, store.ErrUnavailable)) {
		t.Errorf("Watch ended by Close: error = %v, want one wrapping %v or %v", wt.err, store.ErrClosed, store.ErrUnavailable)
	}
	isErr(t, callWatch(t, w, t.Context()), store.ErrClosed, "Watch after Close")
	isErr(t, w.Mark(t.Context(), "m1"), store.ErrClosed, "Mark after Close")
}

// callWatch calls Watch, which is expected to return at once, and fails
// the case if it does not return within watchTimeout or calls its func.
func callWatch(t *testing.T, w store.Watcher, ctx context.Context) error {
	t.Helper()
	var called atomic.Bool
	done := make(chan error, 1)
	go func() { done <- w.Watch(ctx, func(store.Change) { called.Store(true) }) }()
	timer := time.NewTimer(watchTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if called.Load() {
			t.Errorf("Watch called its func before failing with %v", err)
		}
		return err
	case <-timer.C:
		t.Fatalf("Watch did not return within %v", watchTimeout)
		return nil
	}
}

// Once its context ends, Watch calls fn no more, even for changes it has
// already read: a caller that gave up on the feed (it could not apply a
// change) must not take what follows as proof that it is current.
func testWatchNoCallAfterCancel(t *testing.T, e *env) {
	ctx := t.Context()
	w := watcherOf(t, e.s)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ended atomic.Bool
	var after atomic.Int64
	listening := make(chan struct{}, 1)
	fn := func(c store.Change) {
		switch {
		case ended.Load():
			after.Add(1)
		case c.Kind == store.ChangeMark && strings.HasPrefix(c.ID, syncPrefix):
			select {
			case listening <- struct{}{}:
			default:
			}
		case c.Kind == store.ChangeBlock:
			ended.Store(true)
			cancel()
		}
	}
	done := make(chan error, 1)
	go func() { done <- w.Watch(wctx, fn) }()
	deadline := time.After(watchTimeout)
	for i := 0; ; i++ {
		mark(t, w, fmt.Sprint(syncPrefix, "nocall-", i))
		select {
		case <-listening:
		case err := <-done:
			t.Fatalf("Watch returned %v while starting", err)
		case <-time.After(syncEvery):
			continue
		case <-deadline:
			t.Fatalf("Watch delivered no marker within %v", watchTimeout)
		}
		break
	}
	for i := range 20 {
		ok(t, e.s.Revoke(ctx, block(acme, fmt.Sprint("tok-", i), 0)), "Revoke")
		mark(t, w, fmt.Sprint("m", i))
	}
	select {
	case <-done:
	case <-time.After(watchTimeout):
		t.Fatalf("Watch did not return within %v of its context ending", watchTimeout)
	}
	if n := after.Load(); n != 0 {
		t.Errorf("Watch called its func %d times after its context ended", n)
	}
}
