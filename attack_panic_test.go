package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// panicStore is a memory store one of whose methods, named by at,
// panics: a driver with a bug, a nil map in a custom store.
type panicStore struct {
	*memory.Store
	at atomic.Value // string
}

func (s *panicStore) arm(m string) { s.at.Store(m) }

func (s *panicStore) hit(m string) {
	if v, _ := s.at.Load().(string); v == m {
		panic("store " + m + " exploded")
	}
}

func (s *panicStore) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	s.hit("Blocked")
	return s.Store.Blocked(ctx, tenant, ids)
}

func (s *panicStore) KeyByHash(ctx context.Context, h [32]byte) (store.Key, error) {
	s.hit("KeyByHash")
	return s.Store.KeyByHash(ctx, h)
}

func (s *panicStore) ConsumeApproval(ctx context.Context, tenant, fp string, now time.Time) (store.Approval, error) {
	s.hit("ConsumeApproval")
	return s.Store.ConsumeApproval(ctx, tenant, fp, now)
}

func (s *panicStore) PendingApproval(ctx context.Context, tenant, fp string, now time.Time) (store.Approval, error) {
	s.hit("PendingApproval")
	return s.Store.PendingApproval(ctx, tenant, fp, now)
}

func (s *panicStore) CreateApproval(ctx context.Context, a store.Approval) error {
	s.hit("CreateApproval")
	return s.Store.CreateApproval(ctx, a)
}

func (s *panicStore) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	s.hit("Blocks")
	return s.Store.Blocks(ctx, tenant)
}

func (s *panicStore) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	s.hit("Policy")
	return s.Store.Policy(ctx, tenant)
}

func (s *panicStore) Mark(ctx context.Context, token string) error {
	s.hit("Mark")
	return s.Store.Mark(ctx, token)
}

func (s *panicStore) Revoke(ctx context.Context, b store.Block) error {
	s.hit("Revoke")
	return s.Store.Revoke(ctx, b)
}

func (s *panicStore) Suspend(ctx context.Context, b store.Block) error {
	s.hit("Suspend")
	return s.Store.Suspend(ctx, b)
}

func (s *panicStore) Resume(ctx context.Context, tenant, id string) error {
	s.hit("Resume")
	return s.Store.Resume(ctx, tenant, id)
}

func (s *panicStore) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	s.hit("DecideApproval")
	return s.Store.DecideApproval(ctx, tenant, id, d)
}

func (s *panicStore) PutPolicy(ctx context.Context, doc store.PolicyDoc, expect int64) (store.PolicyDoc, error) {
	s.hit("PutPolicy")
	return s.Store.PutPolicy(ctx, doc, expect)
}

func (s *panicStore) CreateKey(ctx context.Context, k store.Key) error {
	s.hit("CreateKey")
	return s.Store.CreateKey(ctx, k)
}

func (s *panicStore) Key(ctx context.Context, tenant, id string) (store.Key, error) {
	s.hit("Key")
	return s.Store.Key(ctx, tenant, id)
}

func (s *panicStore) PruneRevocations(ctx context.Context, now time.Time) (int, error) {
	s.hit("PruneRevocations")
	return s.Store.PruneRevocations(ctx, now)
}

func (s *panicStore) ReleaseBudget(ctx context.Context, tenant, id string) (int, error) {
	s.hit("ReleaseBudget")
	return s.Store.ReleaseBudget(ctx, tenant, id)
}

// panicClock is a test clock that panics, or tells the zero time, when
// told to.
type panicClock struct {
	base  *testClock
	mode  atomic.Int32 // 0 works, 1 panics, 2 tells the zero time, 3 panics after one read
	reads atomic.Int32 // since armed
}

func (c *panicClock) set(mode int32) { c.reads.Store(0); c.mode.Store(mode) }

func (c *panicClock) Now() time.Time {
	n := c.reads.Add(1)
	switch c.mode.Load() {
	case 1:
		panic("clock exploded")
	case 2:
		return time.Time{}
	case 3:
		if n > 1 {
			panic("clock exploded")
		}
	}
	return c.base.Now()
}

// panicRandom is a seeded random source that panics when armed.
type panicRandom struct {
	r  *testkit.Random
	on atomic.Bool
}

func (r *panicRandom) Read(p []byte) (int, error) {
	if r.on.Load() {
		panic("random source exploded")
	}
	return r.r.Read(p)
}

// panicObserver panics on every Check, and on every Event of the kind
// it is given (0: none).
type panicObserver struct {
	check bool
	kind  observe.Kind
}

func (o *panicObserver) Check(context.Context, observe.Check) {
	if o.check {
		panic("observer exploded")
	}
}

func (o *panicObserver) Event(_ context.Context, e observe.Event) {
	if e.Kind == o.kind {
		panic("observer exploded on " + e.Kind.String())
	}
}

// panicRig is a client over injected parts that can each be made to
// panic, with its audit sink.
type panicRig struct {
	c     *agenttrust.Client
	st    *panicStore
	clock *panicClock
	rand  *panicRandom
	sink  *outageSink
}

func newPanicRig(t *testing.T, durable bool, opts ...agenttrust.Option) *panicRig {
	t.Helper()
	r := &panicRig{
		st: &panicStore{Store: memory.New()}, clock: &panicClock{base: newTestClock()},
		rand: &panicRandom{r: newSeededRandom()}, sink: newOutageSink(),
	}
	var err error
	r.c, err = agenttrust.New(r.st, append([]agenttrust.Option{agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)),
		agenttrust.WithClock(r.clock.Now), agenttrust.WithRandom(r.rand),
		// An observer that works: the clock times what it is told.
		agenttrust.WithObserver(&panicObserver{}),
		agenttrust.WithAudit(agenttrust.AuditConfig{
			Sinks: []agenttrust.AuditSink{r.sink}, Durable: durable, Latency: true,
			// A counter left up by a panic would hold Close this long.
			DrainTimeout: time.Hour,
		})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Not waited for past 5s: a counter a panic left up holds Close
		// for the drain's hour, which the case has reported already.
		done := make(chan struct{})
		go func() { r.c.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	return r
}

// within runs f, failing the test when f panics or takes longer than 5
// seconds (a lock left held, a counter never brought down).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		f()
	}()
	select {
	case p := <-done:
		if p != nil {
			t.Fatalf("%s: panicked: %v", what, p)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still blocked after 5s", what)
	}
}

// TestAttackCheckInjectedPanics: every part a Client is given (its
// store, clock and random source) may panic where Check calls it, and a
// clock may tell garbage (the zero time of one never set). The
// panic must not escape Check: the check denies with a typed error and
// is recorded, and the client stays usable: later checks allow, nothing
// is left locked, and Close (whose drain waits for checks under way)
// returns at once. Each case runs with the async and the durable audit.
func TestAttackCheckInjectedPanics(t *testing.T) {
	cases := []struct {
		name    string
		req     agenttrust.Request
		key     bool // check with an API key of billing-bot
		expired bool // which expired a minute ago
		arm     func(r *panicRig)
	}{
		{name: "store Blocked panics", req: charge(1),
			arm: func(r *panicRig) { r.st.arm("Blocked") }},
		{name: "store KeyByHash panics", req: charge(1), key: true,
			arm: func(r *panicRig) { r.st.arm("KeyByHash") }},
		{name: "store ConsumeApproval panics", req: charge(100),
			arm: func(r *panicRig) { r.st.arm("ConsumeApproval") }},
		{name: "store PendingApproval panics", req: charge(100),
			arm: func(r *panicRig) { r.st.arm("PendingApproval") }},
		{name: "store CreateApproval panics", req: charge(100),
			arm: func(r *panicRig) { r.st.arm("CreateApproval") }},
		{name: "random source panics opening an approval", req: charge(100),
			arm: func(r *panicRig) { r.rand.on.Store(true) }},
		{name: "clock panics", req: charge(1),
			arm: func(r *panicRig) { r.clock.set(1) }},
		{name: "clock panics timing the decision", req: charge(1),
			arm: func(r *panicRig) { r.clock.set(3) }},
		// A clock never set tells the zero time, before every expiry.
		{name: "clock tells the zero time to an expired key", req: charge(1), key: true, expired: true,
			arm: func(r *panicRig) { r.clock.set(2) }},
	}
	for _, durable := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/durable=%v", tc.name, durable), func(t *testing.T) {
				r := newPanicRig(t, durable)
				ctx := context.Background()
				req := tc.req
				if tc.key {
					spec := agenttrust.KeySpec{AgentID: "billing-bot"}
					if tc.expired {
						spec.ExpiresAt = r.clock.Now().Add(time.Minute)
					}
					secret, _, err := r.c.CreateKey(ctx, spec)
					if err != nil {
						t.Fatal(err)
					}
					req.Credential = secret
					if tc.expired {
						r.clock.base.Advance(2 * time.Minute)
						if d, err := r.c.Check(ctx, req); d.Allowed() || !errors.Is(err, agenttrust.ErrExpired) {
							t.Fatalf("expired key: %v, %v", d.Effect, err)
						}
					}
				}
				tc.arm(r)
				var d agenttrust.Decision
				var err error
				within(t, "Check", func() { d, err = r.c.Check(ctx, req) })
				if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidConfig) {
					t.Fatalf("Check = %v, %v; want a Deny matching ErrInvalidConfig", d.Effect, err)
				}
				d0 := d
				r.st.arm("")
				r.clock.set(0)
				r.rand.on.Store(false)
				within(t, "a later Check", func() { d, err = r.c.Check(ctx, charge(1)) })
				if err != nil || !d.Allowed() {
					t.Fatalf("a later Check = %v, %v; want an Allow: the client is unusable after the panic", d.Effect, err)
				}
				within(t, "Close", func() { err = r.c.Close() })
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
				recorded := false
				for _, rec := range r.sink.records() {
					recorded = recorded || rec.ID == d0.ID && rec.Effect == agenttrust.Deny
				}
				if !recorded {
					t.Fatalf("the trail lacks the deny of the failed check %v", d0.ID)
				}
			})
		}
	}
}

// TestAttackOperatorActionPanics: an operator action is recorded before
// it runs, and noted as not performed when it fails. When the store
// panicked under it instead, the panic escaped the action with its
// record standing alone: the trail said the revocation, suspension,
// approval, key or policy took effect when it did not. The action must
// fail with a typed error, its record must be answered by a note, and
// the client must go on. Each case runs with the async and the durable
// audit.
func TestAttackOperatorActionPanics(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, method, tool string
		prepare            func(t *testing.T, r *panicRig) string
		act                func(r *panicRig, arg string) error
	}{
		{name: "Revoke", method: "Revoke", tool: "agenttrust.revoke",
			act: func(r *panicRig, _ string) error { return r.c.Revoke(ctx, "s1") }},
		{name: "Suspend", method: "Suspend", tool: "agenttrust.suspend",
			act: func(r *panicRig, _ string) error { return r.c.Suspend(ctx, "s1", "looping") }},
		{name: "Resume", method: "Resume", tool: "agenttrust.resume",
			prepare: func(t *testing.T, r *panicRig) string {
				if err := r.c.Suspend(ctx, "s1", "looping"); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			act: func(r *panicRig, _ string) error { return r.c.Resume(ctx, "s1") }},
		{name: "Approve", method: "DecideApproval", tool: "agenttrust.approve",
			prepare: func(t *testing.T, r *panicRig) string {
				d, err := r.c.Check(ctx, charge(100))
				if err != nil || d.ApprovalID == "" {
					t.Fatalf("Check = %v, %v", d.Effect, err)
				}
				return d.ApprovalID
			},
			act: func(r *panicRig, id string) error { return r.c.Approve(ctx, id, "alice", "ok") }},
		{name: "CreateKey", method: "CreateKey", tool: "agenttrust.create_key",
			act: func(r *panicRig, _ string) error {
				_, _, err := r.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
				return err
			}},
		{name: "SavePolicy", method: "PutPolicy", tool: "agenttrust.save_policy",
			act: func(r *panicRig, _ string) error {
				_, err := r.c.SavePolicy(ctx, []byte(paymentsPolicy), "yaml", 0)
				return err
			}},
	}
	for _, durable := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/durable=%v", tc.name, durable), func(t *testing.T) {
				r := newPanicRig(t, durable)
				var arg string
				if tc.prepare != nil {
					arg = tc.prepare(t, r)
				}
				r.st.arm(tc.method)
				var err error
				within(t, tc.name, func() { err = tc.act(r, arg) })
				if !errors.Is(err, agenttrust.ErrInvalidConfig) {
					t.Fatalf("%s = %v; want an error matching ErrInvalidConfig", tc.name, err)
				}
				r.st.arm("")
				within(t, tc.name+" again", func() { err = tc.act(r, arg) })
				if err != nil {
					t.Fatalf("%s again: %v", tc.name, err)
				}
				within(t, "Close", func() { err = r.c.Close() })
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
				var allows, notes int
				for _, rec := range r.sink.records() {
					if rec.Tool != tc.tool {
						continue
					}
					if rec.Effect == agenttrust.Deny {
						notes++
					} else {
						allows++
					}
				}
				if allows != 2 || notes != 1 {
					t.Fatalf("the trail holds %d records of %s taking effect and %d notes of one not performed; want 2 and 1",
						allows, tc.tool, notes)
				}
			})
		}
	}
}

// TestAttackHalfAppliedAfterPanic: a store panic in the middle of a
// check's phase left the phase's own state half applied, denying the
// agent long after the store recovered. The runaway breaker holds an
// agent whose trip it is suspending until the suspension is written,
// then settles; a Suspend that panicked never settled it, so every
// later check of the agent denied ("suspension not yet in force") until
// the process restarted (Resume finds nothing suspended to lift). The
// cap on open approvals counts an approval before it is stored, and
// forgets it when the store fails; a CreateApproval that panicked left
// it counted, so an agent was refused approvals for their whole TTL.
func TestAttackHalfAppliedAfterPanic(t *testing.T) {
	ctx := context.Background()
	del := agenttrust.Request{AgentID: "billing-bot", Tool: "files.delete", Resource: "f"}
	cases := []struct {
		name   string
		opts   []agenttrust.Option
		method string
		fail   func(r *panicRig) // the checks that hit the panic
		want   agenttrust.Request
		effect agenttrust.Effect
	}{
		{name: "breaker suspends the agent", method: "Suspend",
			opts: []agenttrust.Option{agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxDenials: 3})},
			fail: func(r *panicRig) {
				for range 3 {
					r.c.Check(ctx, del)
				}
			},
			want: charge(1), effect: agenttrust.Allow},
		{name: "approval is created", method: "CreateApproval",
			fail: func(r *panicRig) {
				for i := range 100 {
					r.c.Check(ctx, charge(100+i))
				}
			},
			want: charge(1000), effect: agenttrust.NeedsApproval},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newPanicRig(t, false, tc.opts...)
			r.st.arm(tc.method)
			within(t, "the failing checks", func() { tc.fail(r) })
			r.st.arm("")
			r.clock.base.Advance(time.Second)
			var d agenttrust.Decision
			var err error
			within(t, "Check", func() { d, err = r.c.Check(ctx, tc.want) })
			if err != nil || d.Effect != tc.effect {
				t.Fatalf("Check once the store works = %v (%s), %v; want %v", d.Effect, d.Reason, err, tc.effect)
			}
		})
	}
}

// TestAttackRevocationCallPanics: Revoke and PruneRevocations call the
// store and the clock outside the audited action too: Revoke reads a
// key's expiry before it acts and gives back a revoked budget's
// carve-out after; PruneRevocations reads the clock and prunes. A panic
// there escaped the call instead of failing it with a typed error.
func TestAttackRevocationCallPanics(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		arm  func(r *panicRig)
		call func(r *panicRig, key string) error
	}{
		{name: "Revoke reads the key", arm: func(r *panicRig) { r.st.arm("Key") },
			call: func(r *panicRig, key string) error { return r.c.Revoke(ctx, key) }},
		{name: "Revoke reads the clock", arm: func(r *panicRig) { r.clock.set(1) },
			call: func(r *panicRig, _ string) error { return r.c.Revoke(ctx, "s1") }},
		{name: "Revoke releases budgets", arm: func(r *panicRig) { r.st.arm("ReleaseBudget") },
			call: func(r *panicRig, key string) error { return r.c.Revoke(ctx, key) }},
		{name: "PruneRevocations prunes", arm: func(r *panicRig) { r.st.arm("PruneRevocations") },
			call: func(r *panicRig, _ string) error { _, err := r.c.PruneRevocations(ctx); return err }},
		{name: "PruneRevocations reads the clock", arm: func(r *panicRig) { r.clock.set(1) },
			call: func(r *panicRig, _ string) error { _, err := r.c.PruneRevocations(ctx); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newPanicRig(t, false)
			_, k, err := r.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
			if err != nil {
				t.Fatal(err)
			}
			tc.arm(r)
			within(t, tc.name, func() { err = tc.call(r, k.ID) })
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("%s = %v; want an error matching ErrInvalidConfig", tc.name, err)
			}
			r.st.arm("")
			r.clock.set(0)
			within(t, tc.name+" again", func() { err = tc.call(r, k.ID) })
			if err != nil {
				t.Fatalf("%s again: %v", tc.name, err)
			}
		})
	}
}

// TestAttackClockPanicsWithQueueFull: when the audit queue stays full
// for StuckAfter, a check is refused and its refusal counted, stamped
// with the client's clock. A clock that panicked there (the one read
// of a check outside its phases) escaped Check, and in durable mode
// left the check counted as under way, so Close waited out its whole
// drain. The check must deny with ErrAuditUnavailable, the queue being
// full, and Close must return once the sink does.
func TestAttackClockPanicsWithQueueFull(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprintf("durable=%v", durable), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := newOutageSink()
				clk := &panicClock{base: newTestClock()}
				c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)),
					agenttrust.WithClock(clk.Now),
					agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Durable: durable,
						Queue: 1, StuckAfter: time.Second, DrainTimeout: time.Hour}))
				if err != nil {
					t.Fatal(err)
				}
				defer func() { clk.set(0); sink.setHold(false); c.Close() }()
				ctx := context.Background()
				sink.setHold(true)
				// One record held in the write, one queued: the queue is full.
				for range 2 {
					go c.Check(ctx, charge(1))
					time.Sleep(10 * time.Millisecond) // the flusher takes what is queued
					synctest.Wait()
				}
				clk.set(3) // the check reads it once, then it panics
				var d agenttrust.Decision
				var p any
				func() {
					defer func() { p = recover() }()
					d, err = c.Check(ctx, charge(1))
				}()
				if p != nil {
					t.Fatalf("Check panicked: %v", p)
				}
				if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
					t.Fatalf("Check with the queue full = %v, %v; want a Deny matching ErrAuditUnavailable", d.Effect, err)
				}
				clk.set(0)
				sink.setHold(false)
				start := time.Now()
				c.Close()
				if waited := time.Since(start); waited > time.Minute {
					t.Fatalf("Close waited %v for a check no longer under way", waited)
				}
			})
		})
	}
}

// TestAttackRandomSourcePanics: the random source (WithRandom) is read
// for every id, key secret, token and hop a client makes. A source that
// panicked made CreateKey, Exchange and Delegate panic instead of
// failing with an error; a source that fails with an error already
// fails them. Each must fail with a typed error, and the client go on.
func TestAttackRandomSourcePanics(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		call func(r *panicRig, key, token string) error
	}{
		{name: "CreateKey", call: func(r *panicRig, _, _ string) error {
			_, _, err := r.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
			return err
		}},
		{name: "Exchange", call: func(r *panicRig, key, _ string) error {
			_, err := r.c.Exchange(ctx, key)
			return err
		}},
		{name: "Delegate", call: func(r *panicRig, _, token string) error {
			_, _, err := r.c.Delegate(ctx, token, time.Minute, "tool = payments.charge")
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newPanicRig(t, false)
			key, _, err := r.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
			if err != nil {
				t.Fatal(err)
			}
			token, err := r.c.Exchange(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			r.rand.on.Store(true)
			within(t, tc.name, func() { err = tc.call(r, key, token) })
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("%s = %v; want an error matching ErrInvalidConfig", tc.name, err)
			}
			r.rand.on.Store(false)
			within(t, tc.name+" again", func() { err = tc.call(r, key, token) })
			if err != nil {
				t.Fatalf("%s again: %v", tc.name, err)
			}
		})
	}
}
