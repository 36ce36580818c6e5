// Package safelog keeps a slog handler's panic from its caller.
//
// A logger given to agenttrust.WithLogger or server.WithLogger is an
// injected part, logged to from goroutines no caller can recover (the
// audit flusher, a notifier, the idle-tenant sweeper) and from deferred
// recovers: a handler that panics there ends the process. Logger wraps
// its handler so that a panic loses the line it was given, and nothing
// else. There is nowhere left to tell of the lost line.
package safelog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/agenttrust/agenttrust/internal/errs"
)

// Logger returns a logger that writes to l's handler and drops the line
// when the handler panics. A logger Logger made is returned as it is.
func Logger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(handler); ok {
		return l
	}
	return slog.New(handler{l.Handler()})
}

// handler is a slog.Handler whose every method recovers the panic of
// the handler it wraps.
type handler struct{ h slog.Handler }

func (r handler) Enabled(ctx context.Context, l slog.Level) (on bool) {
	defer func() {
		if recover() != nil {
			on = false // the record would find the handler broken
		}
	}()
	return r.h.Enabled(ctx, l)
}

func (r handler) Handle(ctx context.Context, rec slog.Record) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: the logger panicked with %v", errs.Panicked, p)
		}
	}()
	return r.h.Handle(ctx, rec)
}

func (r handler) WithAttrs(attrs []slog.Attr) (h slog.Handler) {
	defer func() {
		if recover() != nil {
			h = r // the attributes are lost, the logger kept
		}
	}()
	return handler{r.h.WithAttrs(attrs)}
}

func (r handler) WithGroup(name string) (h slog.Handler) {
	defer func() {
		if recover() != nil {
			h = r
		}
	}()
	return handler{r.h.WithGroup(name)}
}
