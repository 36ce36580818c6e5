package agenttrust_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

func TestAuditChain(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := context.Background()
	for i := range 20 {
		f.c.Check(ctx, charge(i*5))
	}
	recs := f.records(t)
	if len(recs) != 20 {
		t.Fatalf("%d records, want 20", len(recs))
	}
	if err := f.c.VerifyChain(recs); err != nil {
		t.Fatal(err)
	}
	if recs[0].Seq != 1 || !recs[0].PrevHash.IsZero() {
		t.Errorf("first record seq %d prev %s", recs[0].Seq, recs[0].PrevHash)
	}
	cp := func() []agenttrust.AuditRecord { return append([]agenttrust.AuditRecord(nil), recs...) }
	tamper := map[string]func([]agenttrust.AuditRecord) []agenttrust.AuditRecord{
		"edit effect": func(r []agenttrust.AuditRecord) []agenttrust.AuditRecord {
			r[5].Effect = agenttrust.Deny + agenttrust.Allow - r[5].Effect
			return r
		},
		"edit reason": func(r []agenttrust.AuditRecord) []agenttrust.AuditRecord { r[5].Reason += "!"; return r },
		"edit attrs": func(r []agenttrust.AuditRecord) []agenttrust.AuditRecord {
			r[3].Attributes = json.RawMessage(`{"amount":1}`)
			return r
		},
		"edit time": func(r []agenttrust.AuditRecord) []agenttrust.AuditRecord {
			r[7].Time = r[7].Time.Add(time.Second)
			return r
		},
		"drop":      func(r []agenttrust.AuditRecord) []agenttrust.AuditRecord { return append(r[:4], r[5:]...) },
		"reorder":   func(r []agenttrust.AuditRecord) []agenttrust.AuditRecord { r[8], r[9] = r[9], r[8]; return r },
		"edit hash": func(r []agenttrust.AuditRecord) []agenttrust.AuditRecord { r[10].Hash[0] ^= 1; return r },
		"swap whole records keeping hashes": func(r []agenttrust.AuditRecord) []agenttrust.AuditRecord {
			r[11].PrevHash, r[12].PrevHash = r[12].PrevHash, r[11].PrevHash
			return r
		},
	}
	for name, fn := range tamper {
		t.Run(name, func(t *testing.T) {
			err := f.c.VerifyChain(fn(cp()))
			var ce *agenttrust.ChainError
			if !errors.As(err, &ce) || !errors.Is(err, agenttrust.ErrChainBroken) {
				t.Fatalf("tampering not detected: %v", err)
			}
		})
	}
}

// TestAuditRecordsAreTheirChecks runs checks from several goroutines,
// for many batches, so that every audit record's memory is reused many
// times, and asserts that each decision's record holds that check's own
// request and attributes, in one unbroken chain: a record handed back for
// reuse while still queued, or attributes shared between records, would
// show as another check's values.
func TestAuditRecordsAreTheirChecks(t *testing.T) {
	const workers, perWorker = 4, 2500 // 10,000 records, about 40 batches
	sink := agenttrust.NewMemorySink(workers * perWorker)
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	type sent struct{ session, attrs string }
	want := make([]map[agenttrust.DecisionID]sent, workers)
	var wg sync.WaitGroup
	for w := range workers {
		want[w] = make(map[agenttrust.DecisionID]sent, perWorker)
		wg.Go(func() {
			for i := range perWorker {
				req := charge(i % 100)
				req.SessionID = fmt.Sprintf("s-%d-%d", w, i)
				// A varying number of attributes, so records of different
				// sizes reuse each other's memory.
				for k := range i % 4 {
					req.Attributes[fmt.Sprintf("k%d", k)] = req.SessionID
				}
				d, err := c.Check(ctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				attrs, _ := json.Marshal(req.Attributes) // keys sorted, as the record's
				want[w][d.ID] = sent{req.SessionID, string(attrs)}
			}
		})
	}
	wg.Wait()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.SyncAudit(sctx); err != nil {
		t.Fatal(err)
	}
	recs := sink.Records()
	if len(recs) != workers*perWorker {
		t.Fatalf("%d records, want %d", len(recs), workers*perWorker)
	}
	if err := c.VerifyChain(recs); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range recs {
		for w := range workers {
			s, ok := want[w][r.ID]
			if !ok {
				continue
			}
			found++
			if r.SessionID != s.session || string(r.Attributes) != s.attrs {
				t.Fatalf("record %s holds session %q attributes %s; its check sent %q %s", r.ID, r.SessionID, r.Attributes, s.session, s.attrs)
			}
		}
	}
	if found != workers*perWorker {
		t.Fatalf("%d records matched a check, want %d", found, workers*perWorker)
	}
}

// blockingSink blocks every Write until released (or the write times
// out). Each Write that starts sends on entered.
type blockingSink struct {
	release chan struct{}
	entered chan struct{}
	mu      sync.Mutex
	got     []agenttrust.AuditRecord
}

func newBlockingSink() *blockingSink {
	return &blockingSink{release: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (s *blockingSink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		r.Attributes = append(json.RawMessage(nil), r.Attributes...)
		s.got = append(s.got, r)
	}
	return nil
}

// The stuck bound runs on real (here, the bubble's) time, not on the
// injected Clock: a clock set forward while a healthy write is under way
// (a test's fake clock, a stepped wall clock) is not an audit outage.
func TestClockJumpIsNotAnAuditOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newBlockingSink()
		f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, StuckAfter: time.Second}))
		ctx := context.Background()
		if d, err := f.c.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("healthy: %v %v", d.Effect, err)
		}
		<-sink.entered // a write is under way
		f.clock.Advance(time.Hour)
		if d, err := f.c.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("after the clock jumped: %v %v, want an allow", d.Effect, err)
		}
		close(sink.release)
		if err := f.c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStuckSinkFailsClosedAndLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newBlockingSink()
		f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, StuckAfter: time.Second}))
		ctx := context.Background()
		if d, err := f.c.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("healthy: %v %v", d.Effect, err)
		}
		// Once the flusher is inside the blocked Write, let the bound
		// pass (on the bubble's clock: the bound is not the injected
		// Clock's, whose jumps are no outage).
		<-sink.entered
		time.Sleep(2 * time.Second)
		var denied int
		for range 5 {
			d, err := f.c.Check(ctx, charge(1))
			if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("stuck sink: %v %v", d.Effect, err)
			}
			denied++
		}
		if f.c.Stats().AuditHealthy {
			t.Error("Stats says healthy while stuck")
		}
		close(sink.release)
		if err := f.c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if d, err := f.c.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("recovered: %v %v", d.Effect, err)
		}
		f.c.SyncAudit(ctx)
		sink.mu.Lock()
		got := sink.got
		sink.mu.Unlock()
		if len(got) != 1+denied+1 {
			t.Fatalf("sink got %d records, want %d: a record was dropped", len(got), 2+denied)
		}
		if err := f.c.VerifyChain(got); err != nil {
			t.Fatal(err)
		}
		for _, r := range got[1 : 1+denied] {
			if r.Effect != agenttrust.Deny || r.Reason != "audit unavailable" {
				t.Errorf("stuck-time record: %v %q", r.Effect, r.Reason)
			}
		}
	})
}

// flakySink fails its first n writes.
type flakySink struct {
	mu   sync.Mutex
	fail int
	got  []agenttrust.AuditRecord
}

func (s *flakySink) Write(_ context.Context, recs []agenttrust.AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return errors.New("disk full")
	}
	for _, r := range recs {
		r.Attributes = append(json.RawMessage(nil), r.Attributes...)
		s.got = append(s.got, r)
	}
	return nil
}

func TestFlakySinkRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &flakySink{fail: 3}
		ring := agenttrust.NewMemorySink(100)
		f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink, ring}}))
		for range 10 {
			f.c.Check(context.Background(), charge(1))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if len(sink.got) != 10 || len(ring.Records()) != 10 {
			t.Fatalf("flaky sink got %d, ring %d; want 10 each (no duplicates, no loss)", len(sink.got), len(ring.Records()))
		}
		if err := f.c.VerifyChain(sink.got); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuditRedactsSecrets(t *testing.T) {
	f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Redact: []string{"ssn"}}))
	req := charge(1)
	req.Attributes = map[string]any{"amount": 1, "password": "hunter2", "X-Api-Key": "k", "ssn": "123", "note": "fine"}
	f.c.Check(context.Background(), req)
	attrs := string(f.records(t)[0].Attributes)
	for _, secret := range []string{"hunter2", `"k"`, "123"} {
		if strings.Contains(attrs, secret) {
			t.Errorf("secret %s in audit attributes %s", secret, attrs)
		}
	}
	want := `{"X-Api-Key":"[redacted]","amount":1,"note":"fine","password":"[redacted]","ssn":"[redacted]"}`
	if attrs != want {
		t.Errorf("attributes\n got %s\nwant %s", attrs, want)
	}
}

func TestStoreSinkContinuesChain(t *testing.T) {
	st := memory.New()
	p := mustPolicy(t, paymentsPolicy)
	key := testAuditKey(t)
	open := func() *agenttrust.Client {
		c, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Key: key, Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for range 2 {
		c := open()
		for range 5 {
			c.Check(context.Background(), charge(1))
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := st.QueryAudit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10 {
		t.Fatalf("%d records", len(recs))
	}
	if err := agenttrust.VerifyChain(recs, key); err != nil {
		t.Fatalf("chain broken across clients: %v", err)
	}
}

// TestFullQueueIsRecorded: checks refused because the audit queue stayed
// full deny, and the trail says how many there were once it drains.
func TestFullQueueIsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newBlockingSink()
		f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Queue: 2, StuckAfter: 20 * time.Millisecond}))
		ctx := context.Background()
		f.c.Check(ctx, charge(1)) // taken by the flusher, whose Write blocks
		<-sink.entered
		f.c.Check(ctx, charge(1)) // fill the queue
		f.c.Check(ctx, charge(1))
		refused := 0
		for range 3 {
			d, err := f.c.Check(ctx, charge(1))
			if d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("full queue: %v %v", d.Effect, err)
			}
			refused++
		}
		close(sink.release)
		if err := f.c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
		sink.mu.Lock()
		got := sink.got
		sink.mu.Unlock()
		if err := f.c.VerifyChain(got); err != nil {
			t.Fatal(err)
		}
		var note *agenttrust.AuditRecord
		for i := range got {
			if got[i].Rule == "agenttrust.audit_overflow" {
				note = &got[i]
			}
		}
		if note == nil || note.Effect != agenttrust.Deny || !strings.Contains(note.Reason, fmt.Sprintf("%d checks denied unrecorded", refused)) {
			t.Fatalf("no overflow note in the trail: %+v", got)
		}
	})
}

// Under load the flusher polls for full batches; once checks stop it must
// write what is left, park, and wake again for the next check.
func TestFlusherParksWhenQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := agenttrust.NewMemorySink(1 << 14)
		f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
		ctx := context.Background()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 2500 {
					f.c.Check(ctx, charge(1))
				}
			})
		}
		wg.Wait()
		parked := func() bool {
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				if agenttrust.AuditFlusherParked(f.c) {
					return true
				}
			}
			return false
		}
		if !parked() {
			t.Fatal("flusher still running 5s after the last check")
		}
		if got := sink.Total(); got != 10_000 {
			t.Fatalf("parked with %d of 10000 records written", got)
		}
		// One more check wakes it: the record arrives without a Sync.
		f.c.Check(ctx, charge(1))
		for deadline := time.Now().Add(5 * time.Second); sink.Total() != 10_001; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("a check after a quiet spell was never written")
			}
		}
		if !parked() {
			t.Fatal("flusher did not park again")
		}
	})
}

// testAuditKey is a fixed audit key, so chains verify across clients.
func testAuditKey(t testing.TB) agenttrust.AuditKey {
	t.Helper()
	k, err := agenttrust.NewAuditKey(bytes.Repeat([]byte("a"), 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAuditKeyMAC: a MAC is bound to its key and purpose, and the
// purposes that could pass for a record's key are refused.
func TestAuditKeyMAC(t *testing.T) {
	k1, _ := agenttrust.NewAuditKey(bytes.Repeat([]byte("a"), 32))
	k2, _ := agenttrust.NewAuditKey(bytes.Repeat([]byte("b"), 32))
	data := []byte("checkpoint state")
	a, err := k1.MAC("checkpoints", data)
	if err != nil {
		t.Fatal(err)
	}
	for name, mac := range map[string]func() (store.Hash, error){
		"another key":     func() (store.Hash, error) { return k2.MAC("checkpoints", data) },
		"another purpose": func() (store.Hash, error) { return k1.MAC("exports", data) },
		"other data":      func() (store.Hash, error) { return k1.MAC("checkpoints", []byte("checkpoint state!")) },
	} {
		if b, err := mac(); err != nil || b == a {
			t.Errorf("%s: %x, %v: want another MAC", name, b, err)
		}
	}
	if b, _ := k1.MAC("checkpoints", data); b != a {
		t.Error("MAC is not deterministic")
	}
	for name, mac := range map[string]func() (store.Hash, error){
		"zero key":       func() (store.Hash, error) { return agenttrust.AuditKey{}.MAC("checkpoints", data) },
		"empty purpose":  func() (store.Hash, error) { return k1.MAC("", data) },
		"chain purpose":  func() (store.Hash, error) { return k1.MAC("chain", data) },
		"NUL in purpose": func() (store.Hash, error) { return k1.MAC("chain\x00n1", data) },
	} {
		if _, err := mac(); !errors.Is(err, agenttrust.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

// TestStoreSinkHeadMovedByPredecessor: a predecessor of the node (its
// chain, its key) writes a record after the node resumed the chain, as a
// write a dead process left waiting in the database commits late. The
// node's next batch finds its seqs taken by genuine records: it continues
// the chain after them instead of failing forever, and the stored chain
// verifies. Records at those seqs that do not verify under the chain's key
// are never built on.
func TestStoreSinkHeadMovedByPredecessor(t *testing.T) {
	ctx := context.Background()
	p := mustPolicy(t, paymentsPolicy)
	key := testAuditKey(t)
	open := func(st store.Store, chain string) *agenttrust.Client {
		c, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{
			Chain: chain, Key: key, Durable: true, StuckAfter: 500 * time.Millisecond, DrainTimeout: 200 * time.Millisecond,
			Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)},
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("genuine", func(t *testing.T) {
		st := memory.New()
		old := open(st, "n1")
		for range 3 {
			old.Check(ctx, charge(1))
		}
		successor := open(st, "n1") // resumes at seq 3
		if d, err := old.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("the predecessor's late record: %v %v", d.Effect, err)
		}
		for i := range 3 {
			if d, err := successor.Check(ctx, charge(1)); err != nil || !d.Allowed() {
				t.Fatalf("check %d after the head moved: %v %v", i, d.Effect, err)
			}
		}
		recs, err := st.QueryAudit(ctx, store.AuditQuery{Chain: "n1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 7 {
			t.Fatalf("%d records, want 7", len(recs))
		}
		if err := agenttrust.VerifyChain(recs, key); err != nil {
			t.Fatalf("chain: %v", err)
		}
	})
	t.Run("forged", func(t *testing.T) {
		st := memory.New()
		old := open(st, "n1")
		for range 3 {
			old.Check(ctx, charge(1))
		}
		successor := open(st, "n1")
		head, err := st.AuditHead(ctx, "n1")
		if err != nil {
			t.Fatal(err)
		}
		forged := head
		forged.Seq, forged.PrevHash, forged.Hash = head.Seq+1, head.Hash, store.Hash{1}
		if err := st.AppendAudit(ctx, []store.AuditRecord{forged}); err != nil {
			t.Fatal(err)
		}
		if d, err := successor.Check(ctx, charge(1)); d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
			t.Fatalf("a check after a forged record took the head: %v %v", d.Effect, err)
		}
	})
}
