package mysql

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"

	driver "github.com/go-sql-driver/mysql"

	"github.com/agenttrust/agenttrust/store"
)

// prefix starts every error message of the package.
const prefix = "agenttrust/store/mysql:"

// maxAttempts bounds how often a call is tried when the server rolled it
// back as a deadlock victim, or it got no connection.
const maxAttempts = 4

// read runs fn, which only reads, under the query timeout, and classifies
// its error. It is tried again when it got no connection or was a
// deadlock victim (see write), and once more when its connection was lost
// before the time ran out. (database/sql itself retries a pooled
// connection found dead before anything was sent.)
func (s *Store) read(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return s.run(ctx, op, true, fn)
}

// write is read for fn that changes data: it is tried again only when it
// got no connection, so nothing was sent, or when the server rolled it
// back as a deadlock victim, which undid all of it.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return s.run(ctx, op, false, fn)
}

func (s *Store) run(ctx context.Context, op string, idempotent bool, fn func(ctx context.Context) error) error {
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-qctx.Done():
		return s.fail(ctx, op, fmt.Errorf("waiting for a connection: %w", qctx.Err()))
	}
	retried := false
	for attempt := 1; ; attempt++ {
		err := fn(qctx)
		if err == nil || isOutcome(err) {
			return err
		}
		if qctx.Err() == nil && attempt < maxAttempts {
			var ce *connectError
			if isDeadlock(err) || errors.As(err, &ce) {
				continue
			}
			if idempotent && !retried && isLost(err) {
				retried = true
				continue
			}
		}
		return s.fail(ctx, op, err)
	}
}

// inTx runs fn in a transaction on one connection, committed when fn
// returns nil and rolled back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isOutcome reports whether err is an answer of the store (not found, a
// conflict, an invalid argument) rather than a failure to give one.
func isOutcome(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid)
}

// Server error numbers the store tells apart.
const (
	errDupFieldName    = 1060 // ER_DUP_FIELDNAME
	errDupEntry        = 1062 // ER_DUP_ENTRY
	errLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT
	errDeadlock        = 1213 // ER_LOCK_DEADLOCK
)

func serverError(err error) (*driver.MySQLError, bool) {
	var me *driver.MySQLError
	ok := errors.As(err, &me)
	return me, ok
}

// isDuplicate reports whether err is a violation of a unique key.
func isDuplicate(err error) bool {
	me, ok := serverError(err)
	return ok && me.Number == errDupEntry
}

func isDeadlock(err error) bool {
	me, ok := serverError(err)
	return ok && me.Number == errDeadlock
}

// isLost reports whether err says the connection broke.
func isLost(err error) bool {
	var ne net.Error
	return errors.Is(err, driver.ErrInvalidConn) || errors.Is(err, sqldriver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// fail wraps an error of the database or the driver: after Close it is
// ErrClosed, when the caller's context ended its error, when the server
// refused the data ErrInvalid, a server error that is not about the data
// or the connection is wrapped as it is, and everything else (refused,
// dropped or timed-out connections, a server shutting down, read-only or
// out of resources, a deadlock that kept recurring) is ErrUnavailable.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	return classify(ctx, op, err, !s.open.Load())
}

func classify(ctx context.Context, op string, err error, closed bool) error {
	if closed {
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	switch ctxErr := ctx.Err(); {
	case errors.Is(ctxErr, context.Canceled):
		return fmt.Errorf("%s %s: %w", prefix, op, ctxErr)
	case ctxErr != nil:
		// The caller's deadline: the database did not answer in time.
		return fmt.Errorf("%s %s: %w: %w", prefix, op, store.ErrUnavailable, ctxErr)
	}
	if me, ok := serverError(err); ok {
		switch me.Number {
		case errLockWaitTimeout, errDeadlock,
			1040, // ER_CON_COUNT_ERROR: too many connections
			1203, // ER_TOO_MANY_USER_CONNECTIONS
			1053, // ER_SERVER_SHUTDOWN
			1077, // ER_NORMAL_SHUTDOWN
			1079, // ER_SHUTDOWN_COMPLETE
			1927, // ER_CONNECTION_KILLED (MariaDB)
			1317, // ER_QUERY_INTERRUPTED
			3024, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
			1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
			1290, // ER_OPTION_PREVENTS_STATEMENT: --read-only, a replica
			1792, // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
			1836, // ER_READ_ONLY_MODE
			1030, // ER_GET_ERRNO: storage engine error
			1021, // ER_DISK_FULL
			1114, // ER_RECORD_FILE_FULL: table is full
			1135, // ER_CANT_CREATE_THREAD
			1041: // ER_OUT_OF_RESOURCES
			return fmt.Errorf("%s %s: %w: %w", prefix, op, store.ErrUnavailable, err)
		case 1406, // ER_DATA_TOO_LONG
			1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
			1264, // ER_WARN_DATA_OUT_OF_RANGE
			1292, // ER_TRUNCATED_WRONG_VALUE
			1048, // ER_BAD_NULL_ERROR
			1153, // ER_NET_PACKET_TOO_LARGE: larger than max_allowed_packet
			1301: // ER_WARN_ALLOWED_PACKET_OVERFLOWED
			return fmt.Errorf("%s %s: the database refused the data (error %d): %w", prefix, op, me.Number, store.ErrInvalid)
		}
		return fmt.Errorf("%s %s: %w", prefix, op, err)
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) {
		// database/sql gave up on the connection: it broke.
		return fmt.Errorf("%s %s: %w: %w", prefix, op, store.ErrUnavailable, err)
	}
	if err.Error() == "sql: database is closed" {
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	return fmt.Errorf("%s %s: %w: %w", prefix, op, store.ErrUnavailable, err)
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
