package agenttrust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// AuditHeadReader is implemented by sinks that persist chains (such as
// StoreSink) so a new client continues its chain instead of starting over.
type AuditHeadReader interface {
	AuditHead(ctx context.Context, chain string) (AuditRecord, error)
}

// AuditHead implements AuditHeadReader.
func (s *StoreSink) AuditHead(ctx context.Context, chain string) (AuditRecord, error) {
	return s.st.AuditHead(ctx, chain)
}

// auditor takes records off the hot path: Check appends to a batch under a
// mutex (no channel, no allocation once warm), and one goroutine chains,
// hashes and writes batches to every sink in order, retrying a failing
// sink rather than dropping. When a write has been failing or hanging for
// longer than stuckAfter, or the queue is full, checks deny.
type auditor struct {
	sinks        []AuditSink
	log          *slog.Logger
	max          int
	stuckAfter   time.Duration
	writeTimeout time.Duration
	clock        Clock

	mu       sync.Mutex
	front    []AuditRecord
	arena    []byte // attribute bytes of front's records
	overflow overflow
	closed   bool
	// space is closed and replaced each time the flusher takes a batch,
	// waking checks that wait for room in a full queue.
	space chan struct{}

	back      []AuditRecord // the batch being written
	backArena []byte
	hashBuf   []byte

	// failingSince is the unix-nano time the oldest unfinished write began
	// failing or hanging; 0 when writes are healthy.
	failingSince atomic.Int64
	writeStarted atomic.Int64
	queued       atomic.Int64
	written      atomic.Uint64

	chain  string
	tenant string
	seq    uint64
	head   Hash

	signal chan struct{}
	stop   chan struct{}
	done   chan struct{}
	err    error // set by the flusher when it gives up at close
}

type overflow struct {
	n           int
	first, last time.Time
}

func newAuditor(chain, tenant string, sinks []AuditSink, max int, stuckAfter, writeTimeout time.Duration, clock Clock, log *slog.Logger) *auditor {
	return &auditor{
		chain: chain, tenant: tenant, sinks: sinks, max: max, stuckAfter: stuckAfter, writeTimeout: writeTimeout,
		clock: clock, log: log,
		signal: make(chan struct{}, 1),
		space:  make(chan struct{}),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// resume continues the chain from the newest head any sink holds.
func (a *auditor) resume(ctx context.Context) error {
	for _, s := range a.sinks {
		hr, ok := s.(AuditHeadReader)
		if !ok {
			continue
		}
		head, err := hr.AuditHead(ctx, a.chain)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return fmt.Errorf("%w: read audit head: %w", ErrStoreUnavailable, err)
		}
		if head.Seq > a.seq {
			a.seq, a.head = head.Seq, head.Hash
		}
	}
	return nil
}

func (a *auditor) start() { go a.run() }

// healthy reports whether records are flowing.
func (a *auditor) healthy(now time.Time) bool {
	if since := a.failingSince.Load(); since != 0 && now.UnixNano()-since > int64(a.stuckAfter) {
		return false
	}
	if started := a.writeStarted.Load(); started != 0 && now.UnixNano()-started > int64(a.stuckAfter) {
		return false
	}
	return true
}

// begin reserves the next record in the queue and returns it with the
// queue locked; the caller fills it and calls end. When the queue is full
// begin waits for the flusher to make room, for up to stuckAfter, then
// fails: a slow sink slows checks down, a stuck one makes them deny. A
// refusal is itself recorded as soon as there is room.
func (a *auditor) begin() (*AuditRecord, error) {
	var timer *time.Timer
	for {
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			return nil, ErrClosed
		}
		if len(a.front) < a.max {
			break
		}
		space := a.space
		a.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(a.stuckAfter)
			defer timer.Stop()
		}
		select {
		case <-space:
			continue
		case <-timer.C:
		}
		now := a.clock.Now()
		a.mu.Lock()
		o := &a.overflow
		if o.n == 0 {
			o.first = now
		}
		o.n++
		o.last = now
		a.mu.Unlock()
		return nil, fmt.Errorf("%w: audit queue full for %s", ErrAuditUnavailable, a.stuckAfter)
	}
	if len(a.front) < cap(a.front) {
		a.front = a.front[:len(a.front)+1]
		r := &a.front[len(a.front)-1]
		*r = AuditRecord{} // the slot was cleared after its last batch; be sure
		return r, nil
	}
	a.front = append(a.front, AuditRecord{})
	return &a.front[len(a.front)-1], nil
}

// end copies attrs into the batch's arena, unlocks the queue and wakes the
// flusher when a batch starts or fills. Attributes point into the arena:
// if it grows, earlier records keep the old array, whose bytes are never
// written again, and the arena is reused only after its batch has reached
// every sink.
func (a *auditor) end(r *AuditRecord, attrs []byte) {
	if len(attrs) > 0 {
		off := len(a.arena)
		a.arena = append(a.arena, attrs...)
		r.Attributes = a.arena[off:len(a.arena):len(a.arena)]
	}
	n := len(a.front)
	a.mu.Unlock()
	a.queued.Add(1)
	if n == 1 || n == batchTarget {
		select {
		case a.signal <- struct{}{}:
		default:
		}
	}
}

// enqueue adds a copy of rec (used off the hot path).
func (a *auditor) enqueue(rec *AuditRecord, attrs []byte) error {
	r, err := a.begin()
	if err != nil {
		return err
	}
	*r = *rec
	r.Attributes = nil
	a.end(r, attrs)
	return nil
}

// depth returns how many records wait to be written.
func (a *auditor) depth() int64 { return a.queued.Load() }

// Batching: after the first record of a batch arrives the flusher waits
// up to batchDelay, or until batchTarget records are queued, before taking
// the batch. Few large batches keep the flusher off the checks' mutex.
const (
	batchDelay  = time.Millisecond
	batchTarget = 512
)

func (a *auditor) run() {
	defer close(a.done)
	timer := time.NewTimer(batchDelay)
	timer.Stop()
	for {
		select {
		case <-a.signal:
		case <-a.stop:
			a.err = a.flush(true)
			return
		}
		timer.Reset(batchDelay)
		select {
		case <-timer.C:
		case <-a.signal: // batchTarget reached
			timer.Stop()
		case <-a.stop:
			timer.Stop()
			a.err = a.flush(true)
			return
		}
		if err := a.flush(false); err != nil {
			a.err = err
			return
		}
	}
}

// flush writes the batch queued so far, or everything when closing. It
// returns an error only when closing and some sink still refuses records.
func (a *auditor) flush(closing bool) error {
	for {
		a.mu.Lock()
		a.front, a.back = a.back[:0], a.front
		a.arena, a.backArena = a.backArena[:0], a.arena
		ov := a.overflow
		a.overflow = overflow{}
		if len(a.back) >= a.max {
			close(a.space)
			a.space = make(chan struct{})
		}
		a.mu.Unlock()
		if ov.n > 0 {
			if err := a.write(a.overflowRecord(ov), closing); err != nil {
				return err
			}
		}
		if len(a.back) == 0 {
			return nil
		}
		n := len(a.back)
		if err := a.write(a.back, closing); err != nil {
			return err
		}
		a.queued.Add(-int64(n))
		clear(a.back) // drop references to callers' strings
		if !closing {
			return nil
		}
	}
}

// overflowRecord stands in the trail for the decisions refused while the
// queue was full: denials it could not hold one by one.
func (a *auditor) overflowRecord(ov overflow) []AuditRecord {
	return []AuditRecord{{
		Chain:  a.chain,
		Time:   ov.first,
		Effect: Deny,
		Rule:   "agenttrust.audit_overflow",
		Reason: fmt.Sprintf("audit queue full: %d checks denied unrecorded between %s and %s", ov.n, ov.first.Format(time.RFC3339Nano), ov.last.Format(time.RFC3339Nano)),
	}}
}

// write chains recs in place (sequence numbers and hashes) and delivers
// them. A warm write allocates nothing.
func (a *auditor) write(recs []AuditRecord, closing bool) error {
	for i := range recs {
		a.seq++
		recs[i].Chain, recs[i].Tenant = a.chain, a.tenant
		recs[i].Seq = a.seq
		recs[i].PrevHash = a.head
		a.hashBuf, recs[i].Hash = hashRecord(a.hashBuf[:0], &recs[i])
		a.head = recs[i].Hash
	}
	if err := a.deliver(recs, closing); err != nil {
		return err
	}
	a.written.Add(uint64(len(recs)))
	return nil
}

// deliver writes recs to every sink, retrying failures with backoff. While
// closing it gives up after a bounded time and reports how much is lost.
func (a *auditor) deliver(recs []AuditRecord, closing bool) error {
	pending := make([]bool, len(a.sinks))
	for i := range pending {
		pending[i] = true
	}
	backoff := 50 * time.Millisecond
	var deadline <-chan time.Time
	stop := a.stop
	if closing {
		stop = nil
	}
	for {
		var lastErr error
		for i, s := range a.sinks {
			if !pending[i] {
				continue
			}
			a.writeStarted.Store(a.clock.Now().UnixNano())
			ctx, cancel := context.WithTimeout(context.Background(), a.writeTimeout)
			err := s.Write(ctx, recs)
			cancel()
			a.writeStarted.Store(0)
			if err != nil {
				lastErr = err
				a.failingSince.CompareAndSwap(0, a.clock.Now().UnixNano())
				a.log.Warn("agenttrust: audit sink write failed; retrying", "sink", i, "records", len(recs), "err", err)
				continue
			}
			pending[i] = false
		}
		if lastErr == nil {
			a.failingSince.Store(0)
			return nil
		}
		if closing && deadline == nil {
			deadline = time.After(a.writeTimeout)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-deadline:
			t.Stop()
			return fmt.Errorf("%w: %d audit records (seq %d-%d) not written at close: %w",
				ErrAuditUnavailable, len(recs), recs[0].Seq, recs[len(recs)-1].Seq, lastErr)
		case <-stop:
			t.Stop()
			stop, closing = nil, true
			deadline = time.After(a.writeTimeout)
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// close stops intake, flushes what is queued and waits for the flusher.
func (a *auditor) close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		<-a.done
		return a.err
	}
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	<-a.done
	return a.err
}

// sync waits until every record enqueued before the call is written or ctx
// ends.
func (a *auditor) sync(ctx context.Context) error {
	for {
		if a.queued.Load() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.done:
			if a.queued.Load() == 0 {
				return nil
			}
			return errors.Join(ErrAuditUnavailable, a.err)
		case <-time.After(time.Millisecond):
		}
	}
}
