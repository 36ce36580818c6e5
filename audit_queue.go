package agenttrust

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/prefetch"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// auditHeadReader is implemented by sinks that persist chains (such as
// audit.StoreSink) so a new client continues its chain instead of starting over
// (see AuditSink).
type auditHeadReader interface {
	AuditHead(ctx context.Context, chain string) (AuditRecord, error)
}

// AuditLossError is returned by Close when some audit records could not
// be written before the drain time ran out (AuditConfig.DrainTimeout): it
// names every decision whose record is missing, so nothing queued is lost
// silently. It matches ErrAuditUnavailable and unwraps to the last sink
// error. A plain value, read-only once returned.
type AuditLossError struct {
	// IDs are the decisions whose records were not written to every
	// sink, in chain order.
	IDs []DecisionID
	// Refused counts checks refused (denied) while the queue was full
	// whose summary record was not written either.
	Refused int
	// Err is the last error of the failing sink.
	Err error
}

func (e *AuditLossError) Error() string {
	return fmt.Sprintf("agenttrust: audit unavailable: %d audit records not written at close (and %d refused checks unrecorded): %v",
		len(e.IDs), e.Refused, e.Err)
}

// Unwrap returns ErrAuditUnavailable and the sink's error, so errors.Is
// and errors.As see both.
func (e *AuditLossError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrAuditUnavailable}
	}
	return []error{ErrAuditUnavailable, e.Err}
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
	drainTimeout time.Duration
	durable      bool
	clock        clock
	obs          observe.Observer // nil: none

	// Written by checks, under mu. Kept apart from the flusher's fields
	// so the two cores do not fight over cache lines.
	_        [64]byte
	mu       sync.Mutex
	front    []pending
	kvs      []attrKV // attributes of front's records
	bytes    int      // text of kvs (names, strings, encoded values)
	maxBytes int      // bound on bytes: queued records wait past it
	enqueued uint64   // records ever accepted
	overflow overflow
	closed   bool
	// notesClosed is set once the flusher has drained its last records at
	// close. Until then a note (a withdrawn decision, an action not
	// performed) is still taken after closed: the record it corrects may
	// yet be written.
	notesClosed bool
	// idle is set by the flusher when it found the queue empty and parked;
	// the next check wakes it. Otherwise checks signal only a full batch,
	// which a flusher under load is already polling for.
	idle bool
	// space is closed and replaced each time the flusher takes a batch,
	// waking checks that wait for room in a full queue.
	space chan struct{}
	_     [64]byte

	// Written by the flusher.
	back    []pending
	backKVs []attrKV
	// kvBytes is the text the attributes written since backKVs' whole
	// capacity was last cleared may still hold in either queue's spare
	// capacity (see flush).
	kvBytes     int
	batch       []AuditRecord // the batch being written, built from back
	arena       []byte        // encoded attributes of the batch being written
	ends        []int         // where each record's attributes end in arena
	canon       []byte        // canonical encodings of the batch being written
	canonEnds   []int
	hashes      []store.Hash
	needStructs bool          // some sink takes records as structs
	drained     atomic.Uint64 // accepted records written to every sink
	written     atomic.Uint64 // records written, overflow notes included
	// stuck is set once a write has been failing or hanging for longer
	// than stuckAfter, by a timer armed when the write began, and cleared
	// when a write succeeds; checks read only it. The bound runs on the
	// time package, not the injected Clock: a clock set forward is not an
	// outage.
	stuck      atomic.Bool
	stuckMu    sync.Mutex
	stuckGen   uint64 // under stuckMu: which arming a firing timer belongs to
	stuckTimer *time.Timer
	failing    bool // flusher only: the batch being written has failed
	chain      string
	tenant     string
	redact     *redactor
	mac        hash.Hash // the chain's HMAC
	seq        uint64
	head       store.Hash

	// inflight counts durable checks and operator actions under way
	// (deciding, waiting for their record, or noting its failure); the
	// drain at close waits for them, as each may still queue a note.
	// target is how many records the flusher waits for before it writes:
	// the checks that were under way when it last released a batch, who
	// are likely to come back together.
	inflight atomic.Int64
	target   atomic.Int64
	// lastWrite is how long the last durable batch took to write.
	lastWrite time.Duration
	// flushed is closed and replaced after each batch reaches every
	// sink, in durable mode, waking the checks that wait for their record.
	flushed atomic.Pointer[chan struct{}]
	// closing is set by the flusher once it is asked to stop; from then
	// on it writes until closeBy, then gives up and reports what is left.
	closing bool
	closeBy time.Time
	// taken holds the records taken from the queue and not yet written;
	// lastErr and lostOverflow what a failed write at close left behind.
	taken        []pending
	lastErr      error
	lostOverflow int

	signal chan struct{} // wakes a parked flusher
	full   chan struct{} // a batch is full
	stop   chan struct{}
	done   chan struct{}
	err    error // set by the flusher when it gives up at close
}

func needStructs(sinks []AuditSink) bool {
	for _, s := range sinks {
		if _, ok := s.(canonicalSink); !ok {
			return true
		}
	}
	return false
}

// canonicalSink is a sink that keeps records in their canonical encoding,
// which the auditor has already made for hashing.
type canonicalSink interface {
	writeCanonical(hashes []store.Hash, canon []byte, ends []int) error
}

// kvSpan locates a record's attributes in the batch's kvs.
type kvSpan struct{ off, n int32 }

// pending is a decision waiting to become an audit record: what a check
// writes, kept small because it crosses to the flusher's core. Every
// field is assigned by each check, so slots are reused without clearing.
type pending struct {
	id                                        DecisionID
	unixNano                                  int64
	latency                                   time.Duration
	agent, obo, session, tool, resource, cred string
	vouched, reqID                            string
	hops                                      []string
	rule, reason, approval                    string
	effect                                    Effect
	kv                                        kvSpan
	shadow                                    *shadowNote // nil unless a shadow policy disagreed
}

type overflow struct {
	n           int
	first, last time.Time
}

// auditConfig is what newAuditor needs from the client's options.
type auditConfig struct {
	chain, tenant                          string
	key                                    AuditKey
	sinks                                  []AuditSink
	max                                    int
	stuckAfter, writeTimeout, drainTimeout time.Duration
	durable                                bool
	obs                                    observe.Observer
}

func newAuditor(cfg auditConfig, red *redactor, clock clock, log *slog.Logger) *auditor {
	a := &auditor{
		chain: cfg.chain, tenant: cfg.tenant, mac: cfg.key.chainMAC(cfg.chain), redact: red, sinks: cfg.sinks, max: cfg.max,
		maxBytes:   cfg.max * queuedBytesPerRecord,
		stuckAfter: cfg.stuckAfter, writeTimeout: cfg.writeTimeout, drainTimeout: cfg.drainTimeout, durable: cfg.durable,
		clock: clock, log: log, obs: cfg.obs,
		needStructs: needStructs(cfg.sinks),
		signal:      make(chan struct{}, 1),
		full:        make(chan struct{}, 1),
		idle:        true,
		space:       make(chan struct{}),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	ch := make(chan struct{})
	a.flushed.Store(&ch)
	return a
}

// resume continues the chain from the newest head any sink holds.
func (a *auditor) resume(ctx context.Context) error {
	for _, s := range a.sinks {
		hr, ok := s.(auditHeadReader)
		if !ok {
			continue
		}
		head, err := auditHead(ctx, hr, a.chain)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			if errors.Is(err, ErrChainBroken) || errors.Is(err, errs.Panicked) {
				// The store answered; what it holds fails verification.
				// Or the sink panicked: not an outage, a defect.
				return fmt.Errorf("resume audit chain: %w", err)
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

// healthy reports whether records are flowing: no write has been failing
// or hanging for longer than stuckAfter.
func (a *auditor) healthy() bool { return !a.stuck.Load() }

// armStuck starts the stuckAfter countdown of a write that begins while
// writes are healthy; a late firing of an earlier countdown does nothing.
func (a *auditor) armStuck() {
	if a.stuckTimer != nil {
		a.stuckTimer.Stop()
	}
	a.stuckMu.Lock()
	a.stuckGen++
	gen := a.stuckGen
	a.stuckMu.Unlock()
	a.stuckTimer = time.AfterFunc(a.stuckAfter, func() {
		a.stuckMu.Lock()
		turned := a.stuckGen == gen && !a.stuck.Swap(true)
		a.stuckMu.Unlock()
		if turned {
			a.observeStuck("stuck")
		}
	})
}

// disarmStuck ends the countdown once a write succeeded: records flow.
func (a *auditor) disarmStuck() {
	a.stuckMu.Lock()
	a.stuckGen++
	was := a.stuck.Swap(false)
	a.stuckMu.Unlock()
	if was {
		a.observeStuck("recovered")
	}
	if a.stuckTimer != nil {
		a.stuckTimer.Stop()
		a.stuckTimer = nil
	}
}

func (a *auditor) observeStuck(outcome string) {
	if a.obs != nil {
		a.obs.Event(context.Background(), observe.Event{Kind: observe.AuditStuck, Tenant: a.tenant, Outcome: outcome})
	}
}

// begin reserves the next record in the queue and returns it with the
// queue locked; the caller fills it and calls end. When the queue is full
// begin waits for the flusher to make room, for up to stuckAfter, then
// fails: a slow sink slows checks down, a stuck one makes them deny. A
// refusal is itself recorded as soon as there is room. A note (see
// notesClosed) is taken while the client closes, until the last drain.
func (a *auditor) begin(note bool) (*pending, error) {
	var timer *time.Timer
	for spins := 0; ; spins++ {
		a.mu.Lock()
		if a.closed && (!note || a.notesClosed) {
			a.mu.Unlock()
			return nil, ErrClosed
		}
		if len(a.front) < a.max && (len(a.front) == 0 || a.bytes < a.maxBytes) {
			break
		}
		space := a.space
		a.mu.Unlock()
		if spins < 64 {
			// The flusher takes a batch within microseconds when it is
			// keeping up: yield rather than park on a timer.
			runtime.Gosched()
			continue
		}
		if timer == nil {
			timer = time.NewTimer(a.stuckAfter)
			defer timer.Stop()
		}
		select {
		case <-space:
			continue
		case <-timer.C:
		}
		// A clock that fails must not fail the refusal: the time
		// package's stands in (readClock).
		now, _ := readClock(a.clock)
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
	} else {
		a.front = append(a.front, pending{})
	}
	return &a.front[len(a.front)-1], nil
}

// end copies the record's attributes, which hold size bytes of text,
// into the batch, unlocks the queue and wakes the flusher when a batch
// starts or fills. The flusher encodes the attributes, off the hot path.
// It returns the record's ticket: the record is written once drained
// reaches it.
func (a *auditor) end(p *pending, kvs []attrKV, size int) uint64 {
	p.kv = kvSpan{int32(len(a.kvs)), int32(len(kvs))}
	a.kvs = append(a.kvs, kvs...)
	a.bytes += size
	a.enqueued++
	ticket := a.enqueued
	n := len(a.front)
	wake := a.idle
	a.idle = false
	a.prefetch(n, len(kvs))
	a.mu.Unlock()
	switch {
	case wake:
		notify(a.signal)
	case n == batchTarget, a.durable && int64(n) >= a.target.Load():
		notify(a.full)
	}
	return ticket
}

// prefetchAhead is how many records ahead of its own a check prefetches.
const prefetchAhead = 4

// prefetch asks for the queue slots the checks after this one will fill,
// n being the queue's length with this check's record: the flusher has
// read those slots since a check last wrote them, so each is shared with
// the flusher's core, and a check writing one would wait at end's unlock
// for its core to take it back (about a third of a check's time when
// measured). Fetched ahead, the transfer overlaps this check's work. The
// first check after a swap also asks for the slots up to its own
// distance, which no check before it did. Called with mu held: the spare
// capacity it points into belongs to the queue.
func (a *auditor) prefetch(n, kvsPerRecord int) {
	lo, hi := n+prefetchAhead-1, n+prefetchAhead
	if n == 1 {
		lo = 1
	}
	hi = min(hi, cap(a.front))
	if lo < hi {
		spare := a.front[:hi]
		prefetch.ForWrite(unsafe.Pointer(&spare[lo]), uintptr(hi-lo)*unsafe.Sizeof(pending{}))
	}
	if kvsPerRecord > 0 {
		lo := len(a.kvs) + (prefetchAhead-1)*kvsPerRecord
		if hi := min(lo+kvsPerRecord, cap(a.kvs)); lo < hi {
			spare := a.kvs[:hi]
			prefetch.ForWrite(unsafe.Pointer(&spare[lo]), uintptr(hi-lo)*unsafe.Sizeof(attrKV{}))
		}
	}
}

// await waits, in durable mode, until the record with the given ticket
// has reached every sink. It fails when that takes longer than
// stuckAfter, when ctx ends first, or when the client closes without
// writing it: the check then denies.
func (a *auditor) await(ctx context.Context, ticket uint64) error {
	var timer *time.Timer
	for {
		// Load the channel before drained: the flusher adds to drained
		// before it closes the channel it replaces.
		ch := *a.flushed.Load()
		if a.drained.Load() >= ticket {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(a.stuckAfter)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-a.done:
			if a.drained.Load() >= ticket {
				return nil
			}
			return fmt.Errorf("%w: client closed before the audit record was written", ErrAuditUnavailable)
		case <-ctx.Done():
			return fmt.Errorf("%w: request ended before its audit record was durable: %w", ErrAuditUnavailable, ctx.Err())
		case <-timer.C:
			return fmt.Errorf("%w: audit record not durable within %s", ErrAuditUnavailable, a.stuckAfter)
		}
	}
}

// notify sends on a one-slot channel without blocking.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// depth returns how many records wait to be written.
func (a *auditor) depth() int64 {
	a.mu.Lock()
	n := a.enqueued
	a.mu.Unlock()
	return int64(n - a.drained.Load())
}

// Batching: the flusher takes a batch when batchTarget records are queued
// or batchDelay after it last took one. Batches this size stay in the
// cores' caches; far larger ones (a millisecond of checks under load)
// cost both cores in memory traffic. In durable mode it takes a batch as
// soon as the last write ends: checks wait for it, and those arriving
// during a write form the next batch (group commit).
//
// Whatever it takes, it writes in batches of at most maxBatchRecords
// records and about maxBatchBytes bytes of attributes, each written and
// counted on its own: a backlog built up during an outage drains at the
// store's real write rate, with one statement of bounded size at a time,
// instead of one huge write that times out and is retried whole.
const (
	batchDelay      = time.Millisecond
	batchTarget     = 256
	maxBatchRecords = 512
	maxBatchBytes   = 1 << 20
	// spinFor bounds how long the flusher polls for a full batch before
	// it parks. It polls only while batches keep filling, that is under
	// load; a check that has to wake a parked flusher pays for the wake-up.
	spinFor = 200 * time.Microsecond
	// spinPolls bounds the polls by count as well, far above what spinFor
	// allows, so that the flusher parks where time stands still: in a
	// testing/synctest bubble the clock moves only once it does.
	spinPolls = 1 << 14
	// durableGather bounds how long a durable batch waits for the checks
	// under way to join it.
	durableGather    = time.Millisecond
	maxDurableGather = 5 * time.Millisecond
	// maxBackoff bounds the wait between retries of a failing write, so a
	// store that comes back is written to again within a second.
	maxBackoff = time.Second
)

// run is the flusher. Woken by the first record after a quiet spell, it
// takes batches until it finds the queue empty, then parks again.
func (a *auditor) run() {
	defer close(a.done)
	timer := time.NewTimer(batchDelay)
	timer.Stop()
	spin := false
	for {
		select {
		case <-a.signal:
		case <-a.stop:
			a.err = a.drain()
			return
		}
		for busy := true; busy; {
			if a.durable {
				if a.gatherDurable(timer) {
					a.err = a.drain()
					return
				}
			} else {
				var stop bool
				if spin, stop = a.gather(timer, spin); stop {
					a.err = a.drain()
					return
				}
			}
			busy = a.flush()
			if a.closing {
				a.err = a.drain()
				return
			}
		}
	}
}

// gatherDurable lets the checks under way join one batch: it waits until
// target records are queued, for up to durableGather. One write for many
// checks is what makes the durable mode affordable, a commit costing far
// more than a check. When fewer callers come back, the batch goes after
// the wait and the next target is lower. It reports whether to stop.
func (a *auditor) gatherDurable(timer *time.Timer) (stop bool) {
	select {
	case <-a.full: // a signal from before this batch
	default:
	}
	a.mu.Lock()
	n := len(a.front)
	a.mu.Unlock()
	if n >= min(int(a.target.Load()), maxBatchRecords) {
		return false
	}
	// Waiting costs little next to a slow write: up to half of the last.
	timer.Reset(min(max(a.lastWrite/2, durableGather), maxDurableGather))
	select {
	case <-a.full:
		timer.Stop()
	case <-timer.C:
	case <-a.stop:
		timer.Stop()
		return true
	}
	return false
}

// gather waits until a batch is full or batchDelay has passed. When the
// last batch filled within spinFor, it first polls, yielding the processor
// between polls, so that the check that fills a batch does not have to
// wake a parked flusher; at lower rates it parks at once. It reports
// whether to poll next time, and whether to stop.
func (a *auditor) gather(timer *time.Timer, spin bool) (spinNext, stop bool) {
	start := time.Now()
	if spin {
		for i := 1; i <= spinPolls; i++ {
			select {
			case <-a.full:
				return true, false
			case <-a.stop:
				return false, true
			default:
			}
			if i%64 == 0 && time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}
	timer.Reset(batchDelay)
	select {
	case <-a.full:
		timer.Stop()
		return time.Since(start) <= spinFor, false
	case <-timer.C:
		return false, false
	case <-a.stop:
		timer.Stop()
		return false, true
	}
}

// flush writes what is queued so far and reports whether there was
// anything. Finding nothing, it marks the flusher idle, so the next check
// wakes it. It returns once everything taken is written, or once the
// client is closing (a.closing), leaving the rest to drain.
func (a *auditor) flush() bool {
	a.mu.Lock()
	if len(a.front) == 0 && a.overflow.n == 0 {
		a.idle = !a.closing
		a.mu.Unlock()
		return false
	}
	a.front, a.back = a.back[:0], a.front
	// The attributes of the last batch are not cleared: that would be this
	// core writing the lines checks write next. Their values stay alive
	// until overwritten, bounded by the slice's capacity.
	a.kvs, a.backKVs = a.backKVs[:0], a.kvs
	full := len(a.back) >= a.max || a.bytes >= a.maxBytes
	a.kvBytes += a.bytes
	a.bytes = 0
	ov := a.overflow
	a.overflow = overflow{}
	if full {
		close(a.space)
		a.space = make(chan struct{})
	}
	a.mu.Unlock()
	// Once the batch is written, its attributes are cleared when the
	// queue's spare capacity may hold more than queuedBytesKept of
	// them: rarely, at ordinary sizes, but a burst of large attributes
	// is not kept after it is written.
	defer a.release()
	a.taken = a.back
	if ov.n > 0 {
		note := [1]pending{a.overflowNote(ov)}
		a.encodeAttrs(note[:], nil)
		if err := a.writePending(note[:]); err != nil {
			a.lostOverflow += ov.n
			a.lastErr = err
			return true
		}
	}
	for len(a.taken) > 0 {
		n := a.encodeAttrs(a.taken, a.backKVs)
		var began time.Time
		if a.durable {
			began = time.Now() // only durable mode paces on write time
		}
		if err := a.writePending(a.taken[:n]); err != nil {
			a.lastErr = err
			return true // closing, and the store still refuses
		}
		// The batch's slots are not cleared here: a check assigns every
		// field of the slot it reuses, and leaving the lines alone spares
		// that check a cache-line transfer from this core.
		a.taken = a.taken[n:]
		a.drained.Add(uint64(n))
		if a.obs != nil {
			a.obs.Event(context.Background(), observe.Event{Kind: observe.AuditWritten, Tenant: a.tenant, N: int64(n), Pending: a.depth()})
		}
		if a.durable {
			a.lastWrite = time.Since(began)
			a.target.Store(a.inflight.Load())
			ch := make(chan struct{})
			close(*a.flushed.Swap(&ch))
		}
	}
	return true
}

// queuedBytesPerRecord is how much attribute text the queue holds per
// record it may hold (AuditConfig.Queue), on average: 64 MiB by default.
// A record holds up to maxAuditAttrBytes; past the bound, checks wait for
// room as when the queue is full, then deny.
const queuedBytesPerRecord = 1 << 10

// queuedBytesKept bounds the attribute text written records may leave in
// the queue's spare capacity (release).
const queuedBytesKept = 1 << 20

// release clears backKVs' whole capacity once what was written through
// the queue since it was last cleared may hold more than queuedBytesKept:
// the front's spare capacity then holds at most that much besides.
func (a *auditor) release() {
	if a.kvBytes <= queuedBytesKept || len(a.taken) > 0 {
		return
	}
	clear(a.backKVs[:cap(a.backKVs)])
	a.kvBytes = 0
}

// drain writes everything still queued once the client is closing, until
// closeBy. What it could not write it reports in an *AuditLossError,
// which it also logs.
func (a *auditor) drain() error {
	if !a.closing {
		a.closing, a.closeBy = true, time.Now().Add(a.drainTimeout)
	}
	for a.lastErr == nil {
		if a.flush() {
			continue
		}
		// Checks and actions under way may yet queue a note correcting a
		// record written here (a durable check whose caller went away):
		// wait for them, within the drain's bound.
		if a.inflight.Load() == 0 || !time.Now().Before(a.closeBy) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	a.mu.Lock()
	a.notesClosed = true
	a.mu.Unlock()
	for a.lastErr == nil && a.flush() { // a note queued since
	}
	if a.lastErr == nil && a.lostOverflow == 0 {
		return nil
	}
	// Give up: name every decision taken but not written, and every one
	// still queued.
	a.mu.Lock()
	lost := make([]DecisionID, 0, len(a.taken)+len(a.front))
	for i := range a.taken {
		lost = append(lost, a.taken[i].id)
	}
	for i := range a.front {
		lost = append(lost, a.front[i].id)
	}
	a.lostOverflow += a.overflow.n
	a.mu.Unlock()
	err := &AuditLossError{IDs: lost, Refused: a.lostOverflow, Err: a.lastErr}
	ids := make([]string, len(lost))
	for i, id := range lost {
		ids[i] = id.String()
	}
	a.log.Error("agenttrust: audit records not written at close", "chain", a.chain, "records", len(lost),
		"refused_unrecorded", a.lostOverflow, "ids", ids, "err", a.lastErr)
	return err
}

// encodeAttrs encodes the captured attributes of the first records of
// batch into canonical, redacted JSON in the arena, which stays on the
// flusher's core, and returns how many it took: at most maxBatchRecords,
// and no more once the arena holds maxBatchBytes (at least one record).
// Records point into the arena, which is reused only after the batch has
// reached every sink.
func (a *auditor) encodeAttrs(batch []pending, kvs []attrKV) int {
	a.arena = a.arena[:0]
	a.ends = a.ends[:0]
	n := 0
	for i := range batch {
		if n == maxBatchRecords || (n > 0 && len(a.arena) >= maxBatchBytes) {
			break
		}
		sp := batch[i].kv
		off := len(a.arena)
		if sp.n > 0 {
			if enc, ok := kvs[sp.off].Value.(encodedAttrs); ok && sp.n == 1 {
				a.arena = append(a.arena, enc...) // encoded when queued (queuedAttrs)
			} else {
				a.arena = appendKVs(a.arena, kvs[sp.off:sp.off+sp.n], a.redact)
				if len(a.arena)-off > maxAuditAttrBytes {
					a.arena = append(append(append(a.arena[:off], `{"`...), truncatedAttr...), `":true}`...)
				}
			}
		}
		a.ends = append(a.ends, len(a.arena))
		n++
	}
	return n
}

// build turns the chained pending batch into audit records for sinks that
// take structs. Call it after writePending's chaining loop.
func (a *auditor) build(batch []pending, prev store.Hash) {
	seq := a.seq - uint64(len(batch))
	if cap(a.batch) < len(batch) {
		a.batch = make([]AuditRecord, len(batch))
	}
	a.batch = a.batch[:len(batch)]
	off := 0
	for i := range batch {
		// Field by field into the reused slot: no temporary record.
		p, r := &batch[i], &a.batch[i]
		r.ID, r.Time, r.Latency = p.id, time.Unix(0, p.unixNano).UTC(), p.latency
		r.AgentID, r.OnBehalfOf, r.SessionID, r.Tool, r.Resource = p.agent, p.obo, p.session, p.tool, p.resource
		r.CredentialID, r.VouchedBy, r.RequestID, r.HopIDs, r.Effect = p.cred, p.vouched, p.reqID, p.hops, p.effect
		r.Rule, r.Reason, r.ApprovalID = p.rule, p.reason, p.approval
		r.ShadowEffect, r.ShadowRule = p.shadow.fields()
		r.Chain, r.Tenant = a.chain, a.tenant
		seq++
		r.Seq, r.PrevHash, r.Hash = seq, prev, a.hashes[i]
		prev = r.Hash
		r.Attributes = nil
		// Slice only now: the arena may have moved while it grew.
		if end := a.ends[i]; end > off {
			r.Attributes = a.arena[off:end:end]
			off = end
		}
	}
}

// writePending chains a batch of pending records whose attributes
// encodeAttrs has just encoded, encoding each record's canonical form
// straight from its pending slot, and delivers it. Audit records as
// structs are built only when some sink needs them; a sink that keeps the
// canonical encoding (the memory ring) is served without them.
func (a *auditor) writePending(batch []pending) error {
	for {
		err := a.chainAndDeliver(batch)
		var moved *headMoved
		if !errors.As(err, &moved) {
			return err
		}
		// Genuine records of this chain took the batch's seqs (see
		// movedHead): continue after them.
		a.log.Warn("agenttrust: audit chain continued after records another writer of this chain stored", "chain", a.chain,
			"from_seq", a.seq-uint64(len(batch))+1, "head_seq", moved.seq)
		a.seq, a.head = moved.seq, moved.hash
	}
}

// chainAndDeliver chains batch after the current head and writes it.
func (a *auditor) chainAndDeliver(batch []pending) error {
	seq0, prevOfFirst := a.seq, a.head
	a.canon, a.canonEnds = a.canon[:0], a.canonEnds[:0]
	if cap(a.hashes) < len(batch) {
		a.hashes = make([]store.Hash, len(batch))
	}
	a.hashes = a.hashes[:len(batch)]
	off := 0
	for i := range batch {
		p := &batch[i]
		a.seq++
		start := len(a.canon)
		end := a.ends[i]
		a.canon = appendCanonicalFields(a.canon, a.chain, a.seq, p.id, p.unixNano, a.tenant, p.agent, p.obo, p.session,
			p.tool, p.resource, a.arena[off:end], p.cred, p.vouched, p.hops, p.effect, p.rule, p.reason, p.approval, p.latency, a.head, p.reqID)
		if p.shadow != nil {
			a.canon = appendShadow(a.canon, p.shadow.effect, p.shadow.rule)
		}
		off = end
		sumMAC(a.mac, a.canon[start:], &a.hashes[i])
		a.canonEnds = append(a.canonEnds, len(a.canon))
		a.head = a.hashes[i]
	}
	a.batch = a.batch[:0]
	if a.needStructs {
		a.build(batch, prevOfFirst)
	}
	if err := a.deliver(a.batch, a.hashes, seq0+1); err != nil {
		return err
	}
	a.written.Add(uint64(len(batch)))
	return nil
}

// headMoved is deliver's error when a sink's chain holds, at the batch's
// seqs, genuine records this auditor did not write: a process of this
// node that died with a write waiting in the database, which committed
// after this one resumed the chain. seq and hash are that sink's head.
type headMoved struct {
	seq  uint64
	hash store.Hash
}

func (h *headMoved) Error() string {
	return fmt.Sprintf("audit chain head moved to seq %d", h.seq)
}

// movedHead reads, after a write of the batch starting at first was
// refused as a conflict, whether sink s holds records of this chain at or
// past first whose head verifies under the chain's key. A head that does
// not verify is no one this node should build on: the write keeps failing,
// and checks deny once it is stuck.
func (a *auditor) movedHead(s AuditSink, first uint64) *headMoved {
	hr, ok := s.(auditHeadReader)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.writeTimeout)
	defer cancel()
	head, err := auditHead(ctx, hr, a.chain)
	if err != nil || head.Seq < first || head.Chain != a.chain || head.Tenant != a.tenant {
		return nil
	}
	var got store.Hash
	hashRecord(nil, a.mac, &head, &got)
	if !hmac.Equal(got[:], head.Hash[:]) {
		a.log.Error("agenttrust: the audit chain's head in a sink does not verify under the chain's key; not building on it",
			"chain", a.chain, "seq", head.Seq)
		return nil
	}
	return &headMoved{seq: head.Seq, hash: head.Hash}
}

// overflowNote stands in the trail for the decisions refused while the
// queue was full: denials it could not hold one by one.
func (a *auditor) overflowNote(ov overflow) pending {
	return pending{
		unixNano: ov.first.UnixMicro() * 1000,
		effect:   Deny,
		rule:     "agenttrust.audit_overflow",
		reason:   fmt.Sprintf("audit queue full: %d checks denied unrecorded between %s and %s", ov.n, ov.first.Format(time.RFC3339Nano), ov.last.Format(time.RFC3339Nano)),
	}
}

// auditHead reads a sink's head of chain. A sink that panics has failed
// the read, with an error matching ErrInvalidConfig (errs.Panicked):
// the flusher, which reads it after a conflict, must not end the
// process, nor New panic on what it is given.
func auditHead(ctx context.Context, hr auditHeadReader, chain string) (head AuditRecord, err error) {
	err = recovered("audit sink's AuditHead", func() (err error) {
		head, err = hr.AuditHead(ctx, chain)
		return err
	})
	return head, err
}

// writeSink writes recs to a user's sink within timeout. A sink that
// panics has failed this write, like one that returns an error: the batch
// is retried and, past the stuck bound, checks deny; the panic must not
// end the process and, with it, every record still queued.
func writeSink(s AuditSink, recs []AuditRecord, timeout time.Duration) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("audit sink panicked: %T", v)
		}
	}()
	return s.Write(ctx, recs)
}

// deliver writes the batch, as canonical encodings (a.canon) to sinks that
// keep those and as recs to the others, retrying failures with backoff.
// Once the client is closing it retries only until closeBy, then returns
// the last error.
//
// first is the seq of the batch's first record. When a sink refuses the
// batch as a conflict before any sink took it, and holds genuine records
// at those seqs (movedHead), deliver returns a *headMoved for the caller
// to chain the batch again after them.
func (a *auditor) deliver(recs []AuditRecord, hashes []store.Hash, first uint64) error {
	var pend [8]bool
	pending := pend[:0]
	for range a.sinks {
		pending = append(pending, true)
	}
	taken := false // some sink has taken this batch as chained
	backoff := 50 * time.Millisecond
	for {
		var lastErr error
		for i, s := range a.sinks {
			if !pending[i] {
				continue
			}
			// A write that hangs counts as stuck from its start; one
			// that fails, from the start of the first failing try.
			if !a.failing {
				a.armStuck()
			}
			var err error
			if cs, ok := s.(canonicalSink); ok {
				err = cs.writeCanonical(hashes, a.canon, a.canonEnds)
			} else {
				timeout := a.writeTimeout
				if a.closing {
					timeout = min(timeout, max(time.Until(a.closeBy), time.Millisecond))
				}
				err = writeSink(s, recs, timeout)
			}
			if err != nil {
				if !taken && (errors.Is(err, store.ErrConflict) || errors.Is(err, ErrConflict)) {
					if moved := a.movedHead(s, first); moved != nil {
						return moved
					}
				}
				lastErr = err
				a.failing = true
				a.log.Warn("agenttrust: audit sink write failed; retrying", "sink", i, "records", len(hashes), "err", err)
				continue
			}
			pending[i], taken = false, true
		}
		if lastErr == nil {
			a.failing = false
			a.disarmStuck()
			return nil
		}
		var stop <-chan struct{}
		wait := backoff
		if a.closing {
			left := time.Until(a.closeBy)
			if left <= 0 {
				return lastErr
			}
			wait = min(wait, left)
		} else {
			stop = a.stop
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			a.closing, a.closeBy = true, time.Now().Add(a.drainTimeout)
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// close stops intake, writes what is queued (for up to drainTimeout) and
// waits for the flusher.
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
	a.mu.Lock()
	target := a.enqueued
	a.mu.Unlock()
	for a.drained.Load() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.done:
			if a.drained.Load() >= target {
				return nil
			}
			return errors.Join(ErrAuditUnavailable, a.err)
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}
