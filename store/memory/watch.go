package memory

import (
	"context"
	"fmt"

	"github.com/agenttrust/agenttrust/store"
)

// watchQueue is how many changes a watcher may fall behind before its
// Watch ends with store.ErrUnavailable.
const watchQueue = 1024

// watcher is one running Watch.
type watcher struct {
	queue chan store.Change // filled under Store.mu, drained by Watch
	// overflow is closed, under Store.mu, when queue was full: the watcher
	// missed a change and is no longer registered.
	overflow chan struct{}
}

// Watch implements store.Watcher in process: it calls fn with each block
// and policy change, and each marker, committed after Watch registered,
// in commit order. Writers never wait for fn: each Watch has a queue of
// 1024 changes, and when fn falls that far behind, Watch returns an error
// wrapping store.ErrUnavailable, after which the caller must reread the
// state it keeps. Watch returns an error wrapping ctx's error when ctx
// ends, and one wrapping store.ErrClosed when the store is closed.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) error {
	const op = "watch"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("agenttrust/store/memory: %s: nil func: %w", op, store.ErrInvalid)
	}
	w := &watcher{queue: make(chan store.Change, watchQueue), overflow: make(chan struct{})}
	s.mu.Lock()
	if !s.open.Load() {
		s.mu.Unlock()
		return fmt.Errorf("agenttrust/store/memory: %s: %w", op, store.ErrClosed)
	}
	s.watchers[w] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, w)
		s.mu.Unlock()
	}()

	for {
		// Checked first, so that Watch stops as soon as it is over even
		// with changes queued.
		if err := s.watchEnded(ctx, w); err != nil {
			return err
		}
		select {
		case c := <-w.queue:
			fn(c)
		case <-ctx.Done():
		case <-s.done:
		case <-w.overflow:
		}
	}
}

// watchEnded returns the error Watch ends with, or nil while it goes on.
func (s *Store) watchEnded(ctx context.Context, w *watcher) error {
	const op = "watch"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("agenttrust/store/memory: %s: %w", op, err)
	}
	select {
	case <-s.done:
		return fmt.Errorf("agenttrust/store/memory: %s: %w", op, store.ErrClosed)
	case <-w.overflow:
		return fmt.Errorf("agenttrust/store/memory: %s: more than %d changes behind: %w", op, watchQueue, store.ErrUnavailable)
	default:
		return nil
	}
}

// Mark implements store.Watcher: every Watch delivers
// Change{Kind: store.ChangeMark, ID: token} after every change committed
// before Mark returned. An empty token is refused with store.ErrInvalid.
func (s *Store) Mark(ctx context.Context, token string) error {
	const op = "mark"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("agenttrust/store/memory: %s: empty token: %w", op, store.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publish(store.Change{Kind: store.ChangeMark, ID: token})
	return nil
}

// publish queues c to every watcher without waiting: a watcher whose queue
// is full is dropped and its Watch ends. The caller holds mu.
func (s *Store) publish(c store.Change) {
	for w := range s.watchers {
		select {
		case w.queue <- c:
		default:
			close(w.overflow)
			delete(s.watchers, w)
		}
	}
}
