package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// outageSink is a sink an attacker (or bad luck) can take down: while
// down it fails every write; while held it blocks every write until
// released; it refuses batches longer than maxLen as a database refuses a
// statement that outlasts its timeout. It keeps what it accepted.
type outageSink struct {
	down    atomic.Bool
	writes  atomic.Int64 // when set above 0, the sink goes down after that many writes
	maxLen  int          // 0: no limit
	hold    chan struct{}
	entered chan struct{} // receives once per write that finds the sink held
	failed  chan struct{} // receives once per write refused while down

	mu       sync.Mutex
	ids      map[agenttrust.DecisionID]agenttrust.Effect
	recs     []agenttrust.AuditRecord
	longest  int
	maxBytes int
}

func newOutageSink() *outageSink {
	return &outageSink{ids: map[agenttrust.DecisionID]agenttrust.Effect{}, entered: make(chan struct{}, 1), failed: make(chan struct{}, 1)}
}

func (s *outageSink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.writes.Load() > 0 && s.writes.Add(-1) == 0 {
		defer s.down.Store(true)
	}
	if s.down.Load() {
		select {
		case s.failed <- struct{}{}:
		default:
		}
		return errors.New("store unreachable")
	}
	if s.maxLen > 0 && len(recs) > s.maxLen {
		return fmt.Errorf("statement timeout: %d records", len(recs))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bytes := 0
	for i := range recs {
		r := recs[i]
		bytes += len(r.Attributes)
		r.Attributes = slices.Clone(r.Attributes)
		r.HopIDs = slices.Clone(r.HopIDs)
		s.recs = append(s.recs, r)
		s.ids[r.ID] = r.Effect
	}
	s.longest = max(s.longest, len(recs))
	s.maxBytes = max(s.maxBytes, bytes)
	return nil
}

func (s *outageSink) setHold(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.hold == nil:
		s.hold = make(chan struct{})
	case !on && s.hold != nil:
		close(s.hold)
		s.hold = nil
	}
}

func (s *outageSink) has(id agenttrust.DecisionID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *outageSink) records() []agenttrust.AuditRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

// bigAttrs is a request with about 1.5 KB of attributes.
func bigAttrs(i int) agenttrust.Request {
	req := charge(1)
	req.Attributes = map[string]any{"amount": 1, "memo": strings.Repeat("m", 1500), "n": i}
	return req
}

// answered is what callers were told, by decision id.
type answered struct {
	mu  sync.Mutex
	ids []agenttrust.DecisionID
	eff map[agenttrust.DecisionID]agenttrust.Effect
}

func (a *answered) add(d agenttrust.Decision) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.eff == nil {
		a.eff = map[agenttrust.DecisionID]agenttrust.Effect{}
	}
	a.ids = append(a.ids, d.ID)
	a.eff[d.ID] = d.Effect
}

// load runs n checks from 16 goroutines and records every answer that is
// not a refusal for want of audit (those are denials the trail notes in
// bulk, and no caller acts on them).
func load(c *agenttrust.Client, n int, ans *answered) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				d, err := c.Check(context.Background(), bigAttrs(i))
				if errors.Is(err, agenttrust.ErrAuditUnavailable) {
					continue
				}
				ans.add(d)
			}
		})
	}
	wg.Wait()
}

// missing returns the answered decisions the sink does not hold.
func (a *answered) missing(s *outageSink) []agenttrust.DecisionID {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []agenttrust.DecisionID
	for _, id := range a.ids {
		if !s.has(id) {
			out = append(out, id)
		}
	}
	return out
}

// lossAuditKey keys every chain these tests write, so a chain written by
// one client verifies after it closed.
func lossAuditKey(t *testing.T) agenttrust.AuditKey {
	t.Helper()
	k, err := agenttrust.NewAuditKey([]byte("audit-loss-tests-audit-key-32-bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newLossClient(t *testing.T, sink agenttrust.AuditSink, opts ...agenttrust.Option) *agenttrust.Client {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(paymentsPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), append([]agenttrust.Option{
		agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Key: lossAuditKey(t), StuckAfter: 200 * time.Millisecond, DrainTimeout: 300 * time.Millisecond}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedDenies asserts the check after Close is a Deny with ErrClosed.
func closedDenies(t *testing.T, c *agenttrust.Client) {
	t.Helper()
	d, err := c.Check(context.Background(), charge(1))
	if d.Allowed() || d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrClosed) {
		t.Fatalf("check after Close: %v, %v; want a Deny with ErrClosed", d.Effect, err)
	}
}

// waitHealthy waits (up to bound, polling) for the client to report its
// audit healthy and a check to be allowed, and returns how long it took.
func waitHealthy(t *testing.T, c *agenttrust.Client, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Since(start) < bound {
		if c.Stats().AuditHealthy {
			if d, err := c.Check(context.Background(), charge(1)); err == nil && d.Allowed() {
				return time.Since(start)
			}
		}
		<-tick.C
	}
	t.Fatalf("audit still unhealthy %s after the store came back: %+v", bound, c.Stats())
	return 0
}

// TestAttackAuditLoss attacks the promise that no answered decision is
// lost: outages, backlogs, oversized batches and a store that refuses
// writes, in both audit modes. Each case asserts that every decision a
// caller was given is in the trail (or named in the typed error Close
// returns), and that what could not be recorded was denied.
func TestAttackAuditLoss(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"close with backlog writes every record", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{DrainTimeout: 10 * time.Second}))
			var ans answered
			load(c, 3000, &ans)
			sink.down.Store(false) // the store returns as shutdown begins
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if m := ans.missing(sink); len(m) != 0 {
				t.Fatalf("%d of %d answered decisions missing after Close", len(m), len(ans.ids))
			}
			if err := agenttrust.VerifyChain(sink.records(), lossAuditKey(t)); err != nil {
				t.Fatal(err)
			}
			closedDenies(t, c)
		}},
		{"close with backlog on a dead store names every lost record", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c := newLossClient(t, sink)
			var ans answered
			load(c, 3000, &ans)
			err := c.Close()
			var le *agenttrust.AuditLossError
			if !errors.As(err, &le) || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("Close on a dead store: %v; want an *AuditLossError", err)
			}
			if len(le.IDs) != len(ans.ids) {
				t.Fatalf("Close names %d lost records, %d decisions were answered", len(le.IDs), len(ans.ids))
			}
			named := map[agenttrust.DecisionID]bool{}
			for _, id := range le.IDs {
				named[id] = true
			}
			for _, id := range ans.ids {
				if !named[id] {
					t.Fatalf("answered decision %s neither written nor named as lost", id)
				}
			}
			closedDenies(t, c)
		}},
		{"close with a store dying mid-drain names exactly the rest", func(t *testing.T) {
			sink := newOutageSink()
			sink.writes.Store(2) // two batches get through
			c := newLossClient(t, sink)
			var ans answered
			load(c, 4000, &ans)
			err := c.Close()
			var le *agenttrust.AuditLossError
			if !errors.As(err, &le) {
				t.Fatalf("Close: %v; want an *AuditLossError", err)
			}
			written := 0
			for _, id := range ans.ids {
				if sink.has(id) {
					written++
				}
			}
			if written+len(le.IDs) != len(ans.ids) || written == 0 {
				t.Fatalf("written %d + named lost %d != answered %d", written, len(le.IDs), len(ans.ids))
			}
			for _, id := range le.IDs {
				if sink.has(id) {
					t.Fatalf("decision %s named lost but written", id)
				}
			}
			closedDenies(t, c)
		}},
		{"outage backlog drains in bounded batches", func(t *testing.T) {
			sink := newOutageSink()
			sink.maxLen = 2000 // a longer statement times out
			sink.down.Store(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{StuckAfter: time.Hour}))
			var ans answered
			load(c, 6000, &ans)
			sink.down.Store(false)
			waitHealthy(t, c, 5*time.Second)
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := c.SyncAudit(sctx); err != nil {
				t.Fatalf("backlog not drained: %v (%+v)", err, c.Stats())
			}
			if m := ans.missing(sink); len(m) != 0 {
				t.Fatalf("%d answered decisions missing", len(m))
			}
			if err := agenttrust.VerifyChain(sink.records(), lossAuditKey(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"outage makes checks deny, recovery makes them allow within seconds", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			clock := newTestClock()
			c := newLossClient(t, sink, agenttrust.WithClock(clock.Now))
			var ans answered
			load(c, 2000, &ans)
			<-sink.failed
			time.Sleep(time.Second) // past the stuck bound, the store still down
			d, err := c.Check(ctx, charge(1))
			if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("during the outage: %v %v", d.Effect, err)
			}
			sink.down.Store(false)
			waitHealthy(t, c, 5*time.Second)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if m := ans.missing(sink); len(m) != 0 {
				t.Fatalf("%d answered decisions missing", len(m))
			}
		}},
		{"oversized batch is split by records", func(t *testing.T) {
			sink := newOutageSink()
			sink.setHold(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{StuckAfter: time.Hour}))
			var ans answered
			load(c, 5000, &ans)
			sink.setHold(false)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if sink.longest > 512 {
				t.Fatalf("a write of %d records: batches must be bounded", sink.longest)
			}
			if m := ans.missing(sink); len(m) != 0 {
				t.Fatalf("%d answered decisions missing", len(m))
			}
			closedDenies(t, c)
		}},
		{"oversized batch is split by bytes", func(t *testing.T) {
			sink := newOutageSink()
			sink.setHold(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{StuckAfter: time.Hour}))
			var wg sync.WaitGroup
			var ans answered
			for w := range 16 {
				wg.Go(func() {
					for i := range 60 {
						req := charge(1)
						req.Attributes = map[string]any{"amount": 1, "blob": strings.Repeat("b", 15_000), "i": w*100 + i}
						d, err := c.Check(ctx, req)
						if err != nil {
							t.Errorf("check: %v", err)
							return
						}
						ans.add(d)
					}
				})
			}
			wg.Wait()
			sink.setHold(false)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if sink.maxBytes > 1<<20+16<<10 {
				t.Fatalf("a write of %d bytes of attributes: batches must be bounded in bytes", sink.maxBytes)
			}
			if m := ans.missing(sink); len(m) != 0 {
				t.Fatalf("%d answered decisions missing", len(m))
			}
		}},
		{"store sink splits a large batch into small appends", func(t *testing.T) {
			st := &countingAudit{Store: memory.New()}
			recs := chainOf(t, 5000)
			if err := audit.NewStoreSink(st).Write(ctx, recs); err != nil {
				t.Fatal(err)
			}
			if st.longest > 512 || st.calls < 10 {
				t.Fatalf("%d appends, longest %d records: one statement per large batch", st.calls, st.longest)
			}
			head, err := st.AuditHead(ctx, "c")
			if err != nil || head.Seq != 5000 {
				t.Fatalf("head after the split write: %d, %v", head.Seq, err)
			}
			// A retry of the whole batch after a lost reply stores nothing twice.
			if err := audit.NewStoreSink(st).Write(ctx, recs); err != nil {
				t.Fatalf("retry: %v", err)
			}
			got, err := st.QueryAudit(ctx, store.AuditQuery{Chain: "c", Limit: 10000})
			if err != nil || len(got) != 5000 || agenttrust.VerifyChain(got, lossAuditKey(t)) != nil {
				t.Fatalf("stored %d records, %v", len(got), err)
			}
		}},
		{"durable write failure denies", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true}))
			d, err := c.Check(ctx, charge(1))
			if d.Allowed() || d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("durable check with a failing sink: %v, %v; want a Deny with ErrAuditUnavailable", d.Effect, err)
			}
			d, err = c.Check(ctx, charge(1))
			if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("second durable check with a failing sink: %v, %v", d.Effect, err)
			}
		}},
		{"durable check with a panicking sink denies", func(t *testing.T) {
			var panicking atomic.Bool
			panicking.Store(true)
			mem := agenttrust.NewMemorySink(100)
			sink := sinkFunc(func(ctx context.Context, recs []agenttrust.AuditRecord) error {
				if panicking.Load() {
					panic("sink bug")
				}
				return mem.Write(ctx, recs)
			})
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true}))
			d, err := c.Check(ctx, charge(1))
			if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("durable check with a panicking sink: %v, %v; want a Deny with ErrAuditUnavailable", d.Effect, err)
			}
			// The process and the queue survived: once the sink heals, the
			// withheld record and the next one are written.
			panicking.Store(false)
			if err := c.Close(); err != nil {
				t.Fatalf("Close after the sink healed: %v", err)
			}
			found := false
			for _, r := range mem.Records() {
				found = found || r.ID == d.ID
			}
			if !found {
				t.Fatal("the decision withheld while the sink panicked was never written")
			}
		}},
		{"durable allow only after its record is written", func(t *testing.T) {
			sink := newOutageSink()
			sink.setHold(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true, StuckAfter: time.Hour}))
			var wg sync.WaitGroup
			var early atomic.Int64
			var released atomic.Bool
			var ans answered
			for range 16 {
				wg.Go(func() {
					for range 20 {
						d, err := c.Check(ctx, charge(1))
						if err != nil || !d.Allowed() {
							t.Errorf("durable check: %v %v", d.Effect, err)
							return
						}
						if !sink.has(d.ID) {
							early.Add(1)
						}
						if !released.Load() {
							early.Add(1)
						}
						ans.add(d)
					}
				})
			}
			<-sink.entered
			released.Store(true)
			sink.setHold(false)
			wg.Wait()
			if early.Load() != 0 {
				t.Fatalf("%d allows returned before their record was written", early.Load())
			}
			if len(ans.ids) != 320 {
				t.Fatalf("%d answers", len(ans.ids))
			}
		}},
		{"durable check denies when the request ends first", func(t *testing.T) {
			sink := newOutageSink()
			sink.setHold(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true, StuckAfter: time.Hour}))
			cctx, cancel := context.WithCancel(ctx)
			go func() { <-sink.entered; cancel() }()
			d, err := c.Check(cctx, charge(1))
			if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) || !errors.Is(err, context.Canceled) {
				t.Fatalf("durable check whose request ended: %v, %v", d.Effect, err)
			}
			sink.setHold(false)
		}},
		{"durable check denies when closed before its record is written", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true, StuckAfter: time.Hour}))
			type res struct {
				d   agenttrust.Decision
				err error
			}
			out := make(chan res, 1)
			go func() { d, err := c.Check(ctx, charge(1)); out <- res{d, err} }()
			<-sink.failed
			cerr := c.Close()
			r := <-out
			if r.d.Allowed() || !errors.Is(r.err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("durable check across Close: %v, %v", r.d.Effect, r.err)
			}
			var le *agenttrust.AuditLossError
			if !errors.As(cerr, &le) || len(le.IDs) != 1 || le.IDs[0] != r.d.ID {
				t.Fatalf("Close: %v; want the lost decision %s named", cerr, r.d.ID)
			}
		}},
		{"a durable allow withdrawn while Close drains is noted", func(t *testing.T) {
			// The caller goes away while Close drains a slow write: the
			// answer is a deny, so the drained record of the allow must be
			// followed by its withdrawal, and Close must not report success
			// without it.
			sink := newOutageSink()
			sink.setHold(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true, StuckAfter: time.Hour, DrainTimeout: 10 * time.Second}))
			cctx, cancel := context.WithCancel(ctx)
			type res struct {
				d   agenttrust.Decision
				err error
			}
			out := make(chan res, 1)
			go func() { d, err := c.Check(cctx, charge(1)); out <- res{d, err} }()
			<-sink.entered
			closed := make(chan error, 1)
			go func() { closed <- c.Close() }()
			time.Sleep(100 * time.Millisecond) // Close has stopped intake and drains
			cancel()
			r := <-out
			if r.d.Allowed() || !errors.Is(r.err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("check: %v %v", r.d.Effect, r.err)
			}
			sink.setHold(false)
			cerr := <-closed
			var kept *agenttrust.AuditRecord
			noted := false
			recs := sink.records()
			for i := range recs {
				if recs[i].ID == r.d.ID {
					kept = &recs[i]
				}
				if recs[i].Rule == "agenttrust.audit_withdrawn" && strings.Contains(recs[i].Reason, r.d.ID.String()) {
					noted = true
				}
			}
			if kept == nil || kept.Effect != agenttrust.Allow || cerr != nil {
				t.Fatalf("the drain did not write the allow's record (%v), or Close failed (%v): the case tests nothing", kept, cerr)
			}
			if !noted {
				t.Fatalf("decision %s answered deny but stored as allow with no withdrawal note", r.d.ID)
			}
		}},
		{"an operator action withdrawn while Close drains is noted", func(t *testing.T) {
			sink := newOutageSink()
			sink.setHold(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true, StuckAfter: time.Hour, DrainTimeout: 10 * time.Second}))
			cctx, cancel := context.WithCancel(ctx)
			out := make(chan error, 1)
			go func() { out <- c.Revoke(cctx, "s-withdrawn") }()
			<-sink.entered
			closed := make(chan error, 1)
			go func() { closed <- c.Close() }()
			time.Sleep(100 * time.Millisecond)
			cancel()
			if err := <-out; !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("Revoke: %v", err)
			}
			sink.setHold(false)
			if err := <-closed; err != nil {
				t.Fatalf("Close: %v", err)
			}
			performed, noted := false, false
			for _, r := range sink.records() {
				if r.Resource == "s-withdrawn" && r.Effect == agenttrust.Allow {
					performed = true
				}
				if r.Resource == "s-withdrawn" && r.Effect == agenttrust.Deny && strings.HasPrefix(r.Reason, "not performed") {
					noted = true
				}
			}
			if !performed || !noted {
				t.Fatalf("record of the revocation written: %v, its not-performed note: %v", performed, noted)
			}
		}},
		{"durable timeout is noted as withdrawn", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true, DrainTimeout: 10 * time.Second}))
			d, err := c.Check(ctx, charge(1))
			if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("%v %v", d.Effect, err)
			}
			sink.down.Store(false)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			recs := sink.records()
			if len(recs) != 2 || recs[0].ID != d.ID || recs[1].Rule != "agenttrust.audit_withdrawn" ||
				recs[1].Effect != agenttrust.Deny || !strings.Contains(recs[1].Reason, d.ID.String()) {
				t.Fatalf("trail after a durable timeout: %+v", recs)
			}
		}},
		{"durable mode loses nothing under load", func(t *testing.T) {
			sink := newOutageSink()
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true}))
			var ans answered
			load(c, 3000, &ans)
			// No Close, no sync: what was answered is already written.
			if m := ans.missing(sink); len(m) != 0 || len(ans.ids) != 3000 {
				t.Fatalf("%d of %d durable answers not written when answered", len(m), len(ans.ids))
			}
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "billing-bot", Tool: "payments.delete"})
			if d.Allowed() || err != nil || !sink.has(d.ID) {
				t.Fatalf("durable deny: %v %v", d.Effect, err)
			}
		}},
		{"durable needs-approval with a failing sink denies and is withdrawn", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true, DrainTimeout: 10 * time.Second}))
			d, err := c.Check(ctx, charge(60))
			if d.Effect != agenttrust.Deny || d.ApprovalID != "" || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("held charge, failing sink: %v %q %v; want a Deny", d.Effect, d.ApprovalID, err)
			}
			sink.down.Store(false)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			recs := sink.records()
			if len(recs) != 2 || recs[1].Rule != "agenttrust.audit_withdrawn" || !strings.Contains(recs[1].Reason, d.ID.String()) {
				t.Fatalf("trail: %+v", recs)
			}
		}},
		{"durable deny with a failing sink needs no withdrawal", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true, DrainTimeout: 10 * time.Second}))
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "billing-bot", Tool: "payments.delete"})
			if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("%v %v", d.Effect, err)
			}
			sink.down.Store(false)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if recs := sink.records(); len(recs) != 1 || recs[0].ID != d.ID || recs[0].Effect != agenttrust.Deny {
				t.Fatalf("trail: %+v", recs)
			}
		}},
		{"durable mode to the memory ring loses nothing", func(t *testing.T) {
			ring := agenttrust.NewMemorySink(1 << 14)
			c := newLossClient(t, ring, agenttrust.WithAudit(agenttrust.AuditConfig{Durable: true}))
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					for range 100 {
						d, err := c.Check(ctx, charge(1))
						if err != nil || !d.Allowed() {
							t.Errorf("%v %v", d.Effect, err)
							return
						}
					}
				})
			}
			wg.Wait()
			if ring.Total() != 1600 {
				t.Fatalf("ring holds %d records right after 1600 durable answers", ring.Total())
			}
		}},
		{"close names refusals of a full queue on a dead store", func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Queue: 10, StuckAfter: 20 * time.Millisecond}))
			refused := 0
			for range 40 {
				d, err := c.Check(ctx, charge(1))
				if errors.Is(err, agenttrust.ErrAuditUnavailable) {
					if d.Allowed() {
						t.Fatal("a refusal for want of audit allowed")
					}
					refused++
				}
			}
			err := c.Close()
			var le *agenttrust.AuditLossError
			if !errors.As(err, &le) || !errors.Is(err, agenttrust.ErrAuditUnavailable) || len(le.IDs) == 0 {
				t.Fatalf("Close: %v; want an *AuditLossError", err)
			}
			if refused == 0 || le.Refused == 0 {
				t.Fatalf("%d refused, %d named as refused unrecorded", refused, le.Refused)
			}
		}},
		{"store sink retry after a lost reply mid-batch stores each record once", func(t *testing.T) {
			st := &lossyAudit{Store: memory.New(), loseAt: 3}
			recs := chainOf(t, 3000)
			sink := audit.NewStoreSink(st)
			if err := sink.Write(ctx, recs); err == nil {
				t.Fatal("the lost reply was not reported")
			}
			if err := sink.Write(ctx, recs); err != nil {
				t.Fatalf("retry: %v", err)
			}
			got, err := st.QueryAudit(ctx, store.AuditQuery{Chain: "c"})
			if err != nil || len(got) != 3000 || agenttrust.VerifyChain(got, lossAuditKey(t)) != nil {
				t.Fatalf("stored %d records, %v", len(got), err)
			}
		}},
		{"negative drain timeout is refused", func(t *testing.T) {
			_, err := agenttrust.New(memory.New(), agenttrust.WithAudit(agenttrust.AuditConfig{DrainTimeout: -1}))
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("New with drain timeout -1: %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { synctest.Test(t, tc.run) })
	}
}

// countingAudit counts AppendAudit calls and their longest batch.
type countingAudit struct {
	store.Store
	mu             sync.Mutex
	calls, longest int
}

func (s *countingAudit) AppendAudit(ctx context.Context, recs []agenttrust.AuditRecord) error {
	s.mu.Lock()
	s.calls++
	s.longest = max(s.longest, len(recs))
	s.mu.Unlock()
	return s.Store.AppendAudit(ctx, recs)
}

// lossyAudit stores its loseAt-th append but reports it failed, as when
// the reply of a committed write is lost.
type lossyAudit struct {
	store.Store
	n, loseAt int
}

func (s *lossyAudit) AppendAudit(ctx context.Context, recs []agenttrust.AuditRecord) error {
	err := s.Store.AppendAudit(ctx, recs)
	if s.n++; s.n == s.loseAt && err == nil {
		return errors.New("connection reset after commit")
	}
	return err
}

// chainOf returns n chained records of chain "c", made by a client.
func chainOf(t *testing.T, n int) []agenttrust.AuditRecord {
	t.Helper()
	sink := newOutageSink()
	c := newLossClient(t, sink, agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "c"}))
	for range n {
		c.Check(context.Background(), charge(1))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.records()
}
