package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The change feed. MySQL has no LISTEN/NOTIFY: every block or policy
// write appends a row to the change log in its own transaction, numbered
// by a counter row that the write bumps and keeps locked until it
// commits. Sequence order is therefore commit order, and a reader that
// sees seq n sees every seq below it. Watch polls the log past the last
// seq it delivered: one indexed read, which returns nothing when nothing
// changed.
//
// Marks are not written: Mark reads the counter (one primary-key read)
// and hands the token to every Watch of its Store, which delivers it once
// it has delivered the changes up to that count, and before any later
// one, after a poll begun since (which finds the log still holds the last
// change it read, so a database that went back in time breaks the feed). A Watch delivers the marks of its own Store only, which is what
// agenttrust's notify mode needs: each node proves its own view fresh.

// Kinds of change, as stored in the change log.
const (
	changeBlock  = 1
	changePolicy = 2
)

const (
	sqlBumpSeq   = `UPDATE {p}change_seq SET n = LAST_INSERT_ID(n + ?) WHERE one = 1`
	sqlReadSeq   = `SELECT n FROM {p}change_seq WHERE one = 1`
	sqlLogChange = `INSERT INTO {p}changes (seq, kind, tenant, id) VALUES `
	sqlTrimLog   = `DELETE FROM {p}changes WHERE seq <= ?`
	sqlPollLog   = `SELECT seq, kind, tenant, id FROM {p}changes WHERE seq >= ? ORDER BY seq LIMIT 1024`
)

// pollLimit is the LIMIT of sqlPollLog.
const pollLimit = 1024

// The change log keeps the last changeKeep changes; every changeTrim
// changes, the write that crosses the boundary deletes older ones. A Watch
// that fell further behind than changeKeep finds a gap and fails with
// store.ErrUnavailable, so its caller rereads the state.
const (
	changeKeep = 100_000
	changeTrim = 1024
)

// logChanges appends one change of kind per (tenant, id) to the change
// log, in tx.
func (s *Store) logChanges(ctx context.Context, tx *sql.Tx, kind int, items [][2]string) error {
	res, err := s.exec(ctx, tx, s.q.bumpSeq, len(items))
	if err != nil {
		return err
	}
	last, err := res.LastInsertId()
	if err != nil {
		return err
	}
	first := last - int64(len(items)) + 1
	for from := 0; from < len(items); from += 1000 {
		to := min(from+1000, len(items))
		args := make([]any, 0, 4*(to-from))
		for i, it := range items[from:to] {
			args = append(args, first+int64(from+i), kind, it[0], it[1])
		}
		if _, err := s.exec(ctx, tx, s.q.logChangeRows(to-from), args...); err != nil {
			return err
		}
	}
	if (first-1)/changeTrim != last/changeTrim && last > changeKeep {
		if _, err := s.exec(ctx, tx, s.q.trimLog, last-changeKeep); err != nil {
			return err
		}
	}
	return nil
}

// watch is one running Watch.
type watch struct {
	cancel context.CancelCauseFunc
	wake   chan struct{} // a mark arrived; capacity 1

	mu    sync.Mutex
	marks []mark // ordered by seq, then by arrival
	added uint64 // marks added so far
}

// mark is a Mark's token, due once the changes up to seq are delivered
// and a poll begun after it was added has found the log as read.
type mark struct {
	seq   int64
	gen   uint64 // its number among the marks added
	token string
}

func (w *watch) add(m mark) {
	w.mu.Lock()
	w.added++
	m.gen = w.added
	i := len(w.marks)
	for i > 0 && w.marks[i-1].seq > m.seq {
		i--
	}
	w.marks = slices.Insert(w.marks, i, m)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// held reports whether a mark due once the changes up to seq are
// delivered is still waiting.
func (w *watch) held(seq int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.marks) > 0 && w.marks[0].seq <= seq
}

// due removes and returns, in order, the marks due once the changes up
// to seq are delivered, among the first gen added.
func (w *watch) due(seq int64, gen uint64) []mark {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []mark
	for i := 0; i < len(w.marks) && w.marks[i].seq <= seq; {
		if w.marks[i].gen > gen {
			i++
			continue
		}
		out = append(out, w.marks[i])
		w.marks = slices.Delete(w.marks, i, i+1)
	}
	return out
}

// gen returns how many marks were added so far.
func (w *watch) gen() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.added
}

// Watch implements store.Watcher by polling the change log: every poll
// interval (WithPollInterval), and at once when a Mark of the same Store
// needs changes it has not read. It returns ctx's error when ctx ends, one
// wrapping store.ErrClosed when the store is closed, and one wrapping
// store.ErrUnavailable when a poll fails or finds that the log was trimmed
// past what it had read.
//
// A Mark sent from the same Store after Watch was called is delivered.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) error {
	const op = "watch"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if fn == nil {
		return invalid(op, "nil callback")
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := &watch{cancel: cancel, wake: make(chan struct{}, 1)}
	s.watchMu.Lock()
	if !s.open.Load() {
		s.watchMu.Unlock()
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	s.watches[w] = struct{}{}
	s.watchMu.Unlock()
	defer func() {
		s.watchMu.Lock()
		delete(s.watches, w)
		s.watchMu.Unlock()
	}()

	last, err := s.readSeq(wctx, op)
	if err != nil {
		return s.watchFail(ctx, wctx, op, err)
	}
	// base is the change logged at seq last. Every poll reads it again,
	// and a mark is delivered only after a poll begun once it was added
	// (polled, the marks added before that poll began): a database that
	// went back to an earlier state (restored from a backup, failed over
	// to a replica that lagged) numbers its next changes from its older
	// counter, reusing seqs read past, which a poll past last would
	// never return while marks proved the reader's view fresh.
	var (
		base   *store.Change
		polled uint64
	)
	// Nothing is delivered once wctx ends, even what was already read: a
	// caller that cancelled gave up on the feed (store.Watcher).
	deliver := func(c store.Change) bool {
		if wctx.Err() != nil {
			return false
		}
		fn(c)
		return true
	}
	deliverMarks := func(upTo int64) {
		for _, m := range w.due(upTo, polled) {
			if !deliver(store.Change{Kind: store.ChangeMark, ID: m.token}) {
				return
			}
		}
	}
	timer := time.NewTimer(s.poll)
	defer timer.Stop()
	for {
		deliverMarks(last)
		select {
		case <-wctx.Done():
			return s.watchFail(ctx, wctx, op, wctx.Err())
		case <-w.wake:
		case <-timer.C:
		}
		for {
			gen := w.gen()
			if s.beforePoll != nil {
				s.beforePoll()
			}
			var changes []seqChange
			err := s.read(wctx, op, func(ctx context.Context) error {
				var err error
				changes, err = s.pollLog(ctx, last)
				return err
			})
			if err != nil {
				return s.watchFail(ctx, wctx, op, err)
			}
			full := len(changes) == pollLimit
			if last > 0 {
				if len(changes) == 0 || changes[0].seq != last || base != nil && changes[0].Change != *base {
					return s.watchFail(ctx, wctx, op, fmt.Errorf("%w: the change log no longer holds seq %d as read (trimmed past it, or the database went back to an earlier state): changes were missed", store.ErrUnavailable, last))
				}
				base = &changes[0].Change
				changes = changes[1:]
			}
			polled = gen
			overtaken := false
			for _, c := range changes {
				if c.seq != last+1 {
					return s.watchFail(ctx, wctx, op, fmt.Errorf("%w: the change log was trimmed past seq %d (next is %d): changes were missed", store.ErrUnavailable, last, c.seq))
				}
				deliverMarks(last)
				if w.held(last) {
					// A mark due before c was added after this poll
					// began, so it is not yet delivered: c must not
					// overtake it. Poll again, from c.
					overtaken = true
					break
				}
				if c.Kind != 0 && !deliver(c.Change) {
					return s.watchFail(ctx, wctx, op, wctx.Err())
				}
				last = c.seq
				base = &c.Change
			}
			if !full && !overtaken {
				break
			}
		}
		timer.Reset(s.poll)
	}
}

type seqChange struct {
	seq int64
	store.Change
}

// pollLog reads the change log from seq from on.
func (s *Store) pollLog(ctx context.Context, from int64) ([]seqChange, error) {
	rows, err := s.query(ctx, nil, s.q.pollLog, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []seqChange
	for rows.Next() {
		var (
			c    seqChange
			kind int16
		)
		if err := rows.Scan(&c.seq, &kind, &c.Tenant, &c.ID); err != nil {
			return nil, err
		}
		switch kind {
		case changeBlock:
			c.Kind = store.ChangeBlock
		case changePolicy:
			c.Kind, c.ID = store.ChangePolicy, ""
		default:
			c.Kind = 0 // written by a later version: skipped
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// readSeq reads the change counter.
func (s *Store) readSeq(ctx context.Context, op string) (int64, error) {
	var n int64
	err := s.read(ctx, op, func(ctx context.Context) error {
		return s.queryRow(ctx, nil, s.q.readSeq).Scan(&n)
	})
	return n, err
}

func (s *Store) watchFail(ctx, wctx context.Context, op string, err error) error {
	if cause := context.Cause(wctx); errors.Is(cause, store.ErrClosed) {
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", prefix, op, ctxErr)
	}
	if errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("%s %s: feed lost: %w", prefix, op, err)
	}
	return fmt.Errorf("%s %s: feed lost: %w: %w", prefix, op, store.ErrUnavailable, err)
}

// Mark implements store.Watcher: it reads the change counter and hands
// the token to every Watch of this Store, which delivers it after the
// changes committed before Mark read the counter, and before any later
// one. Marks are not written to the database, so they cost one read and
// reach the Watch calls of this Store only.
func (s *Store) Mark(ctx context.Context, token string) error {
	const op = "mark"
	seq, err := s.readSeq(ctx, op)
	if err != nil {
		return err
	}
	s.watchMu.Lock()
	for w := range s.watches {
		w.add(mark{seq: seq, token: token})
	}
	s.watchMu.Unlock()
	return nil
}
