package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agenttrust/agenttrust/store"
)

// prefix starts every error message of the package.
const prefix = "agenttrust/store/postgres:"

// read runs fn, which only reads, on a pooled connection under the query
// timeout, and classifies its error. A read that failed because a reused
// connection turned out to be broken is retried once on a new one.
func (s *Store) read(ctx context.Context, op string, fn func(ctx context.Context, c *pgx.Conn) error) error {
	return s.run(ctx, op, true, fn)
}

// write is read for fn that changes data: it is retried only when the
// failed attempt sent nothing to the server.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, c *pgx.Conn) error) error {
	return s.run(ctx, op, false, fn)
}

func (s *Store) run(ctx context.Context, op string, idempotent bool, fn func(ctx context.Context, c *pgx.Conn) error) error {
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		c, reused, err := s.pool.acquire(qctx)
		if err != nil {
			return s.fail(ctx, op, err)
		}
		err = fn(qctx, c)
		if err == nil || isOutcome(err) {
			s.pool.release(c, false)
			return err
		}
		broken := c.IsClosed()
		s.pool.release(c, broken)
		// A connection that broke before the time ran out was cut: the
		// idle ones most likely were too.
		lost := broken && qctx.Err() == nil
		if lost {
			s.pool.flush()
		}
		if attempt == 0 && reused && lost && (idempotent || pgconn.SafeToRetry(err)) {
			continue
		}
		return s.fail(ctx, op, err)
	}
}

// isOutcome reports whether err is an answer of the store (not found, a
// conflict, an invalid argument, a row edited behind its back) rather
// than a failure to give one.
func isOutcome(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid) ||
		errors.Is(err, store.ErrCorrupt)
}

// fail wraps an error of the database or the driver: after Close it is
// ErrClosed, when the caller's context ended its error, when the server
// refused the data ErrInvalid, a server error that is not about the data
// or the connection is wrapped as it is, and everything else (refused,
// dropped or timed-out connections, a server shutting down or out of
// resources) is ErrUnavailable.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	return classify(ctx, op, err, !s.open.Load())
}

func classify(ctx context.Context, op string, err error, closed bool) error {
	if closed || errors.Is(err, errPoolClosed) {
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	switch ctxErr := ctx.Err(); {
	case errors.Is(ctxErr, context.Canceled):
		return fmt.Errorf("%s %s: %w", prefix, op, ctxErr)
	case ctxErr != nil:
		// The caller's deadline: the database did not answer in time.
		return fmt.Errorf("%s %s: %w: %w", prefix, op, store.ErrUnavailable, ctxErr)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch class(pgErr) {
		case "08", // connection exception
			"40", // serialization failure, deadlock: transient
			"53", // insufficient resources, too many connections
			"57": // operator intervention: canceled, shutting down
			return fmt.Errorf("%s %s: %w: %w", prefix, op, store.ErrUnavailable, err)
		case "22", // data exception: invalid encoding, NUL in text
			"54": // program limit exceeded: a value too large to index
			return fmt.Errorf("%s %s: the database refused the data (SQLSTATE %s): %w", prefix, op, pgErr.Code, store.ErrInvalid)
		}
		return fmt.Errorf("%s %s: %w", prefix, op, err)
	}
	return fmt.Errorf("%s %s: %w: %w", prefix, op, store.ErrUnavailable, err)
}

func class(e *pgconn.PgError) string {
	if len(e.Code) < 2 {
		return ""
	}
	return e.Code[:2]
}

// isUniqueViolation reports whether err is a violation of a unique
// constraint (SQLSTATE 23505).
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func notFound(op, format string, args ...any) error {
	return fmt.Errorf("%s %s: %s: %w", prefix, op, fmt.Sprintf(format, args...), store.ErrNotFound)
}

func conflict(op, format string, args ...any) error {
	return fmt.Errorf("%s %s: %s: %w", prefix, op, fmt.Sprintf(format, args...), store.ErrConflict)
}

func invalid(op, format string, args ...any) error {
	return fmt.Errorf("%s %s: %s: %w", prefix, op, fmt.Sprintf(format, args...), store.ErrInvalid)
}

// errEditedRecord reports an audit row stored otherwise than AppendAudit
// stores it (an effect out of range): it was written behind the store's
// back, and a query filtering on that column would pass over it.
var errEditedRecord = fmt.Errorf("%w: an audit record stored in a form agenttrust never writes (a filtered query would miss it)", store.ErrCorrupt)
