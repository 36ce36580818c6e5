package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/agenttrust/agenttrust/store"
)

// Defaults of the options.
const (
	DefaultSchema       = "agenttrust"
	DefaultQueryTimeout = 2 * time.Second
	DefaultHeartbeat    = 5 * time.Second
)

// maxIdentifier is PostgreSQL's limit on identifiers (NAMEDATALEN - 1).
const maxIdentifier = 63

// Store is a store.Store and a store.Watcher on PostgreSQL. Create one
// with Open.
//
// A Store is safe for concurrent use by multiple goroutines. The zero Store
// is closed: every method returns an error wrapping store.ErrClosed.
type Store struct {
	open      atomic.Bool
	pool      *pool
	listenCfg *pgx.ConnConfig // for Watch's dedicated connections
	schema    string
	channel   string // LISTEN/NOTIFY channel of the schema
	timeout   time.Duration
	heartbeat time.Duration

	watchMu sync.Mutex
	watches map[*watch]struct{}
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// Option configures Open.
type Option func(*config)

type config struct {
	schema    string
	timeout   time.Duration
	maxConns  int
	heartbeat time.Duration
}

// WithSchema puts every table of the store in the named schema, created if
// missing. The default is DefaultSchema. Stores on different schemas of one
// database share nothing, notifications included.
func WithSchema(name string) Option { return func(c *config) { c.schema = name } }

// WithQueryTimeout bounds every call to the database: waiting for a
// connection, connecting and the query itself. A call that runs out of it
// fails with an error wrapping store.ErrUnavailable. The default is
// DefaultQueryTimeout; the caller's context can only shorten it.
func WithQueryTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMaxConns caps the connections the store keeps open for its methods;
// each running Watch holds one more of its own. The default is the number
// of CPUs, at least 4.
func WithMaxConns(n int) Option { return func(c *config) { c.maxConns = n } }

// WithHeartbeat sets how long Watch waits on a silent connection before it
// checks the connection with a round trip, so that a feed stalled by the
// network is reported (as store.ErrUnavailable) within the heartbeat plus
// the query timeout. The default is DefaultHeartbeat.
func WithHeartbeat(d time.Duration) Option { return func(c *config) { c.heartbeat = d } }

// Open connects to the database at url (a PostgreSQL URL or key=value
// connection string, as pgx parses it), creates the schema or brings it up
// to date, and returns the store. Migrations run in one transaction under
// an advisory lock, so processes may open the same schema concurrently.
// An unreachable database yields an error wrapping store.ErrUnavailable,
// an invalid option one wrapping store.ErrInvalid.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg := config{
		schema:    DefaultSchema,
		timeout:   DefaultQueryTimeout,
		maxConns:  max(4, runtime.NumCPU()),
		heartbeat: DefaultHeartbeat,
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.schema == "" || len(cfg.schema) > maxIdentifier || strings.ContainsRune(cfg.schema, 0):
		return nil, fmt.Errorf("%s open: schema name %q must have 1 to %d bytes and no NUL: %w", prefix, cfg.schema, maxIdentifier, store.ErrInvalid)
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("%s open: query timeout %v must be positive: %w", prefix, cfg.timeout, store.ErrInvalid)
	case cfg.maxConns < 1:
		return nil, fmt.Errorf("%s open: max conns %d must be at least 1: %w", prefix, cfg.maxConns, store.ErrInvalid)
	case cfg.heartbeat <= 0:
		return nil, fmt.Errorf("%s open: heartbeat %v must be positive: %w", prefix, cfg.heartbeat, store.ErrInvalid)
	}

	connCfg, err := pgx.ParseConfig(url)
	if err != nil {
		// The message of a parse error may quote the URL, password
		// included: do not wrap it.
		return nil, fmt.Errorf("%s open: invalid connection string: %w", prefix, store.ErrInvalid)
	}
	// Every statement names its tables unqualified; the search path puts
	// them in the store's schema.
	connCfg.RuntimeParams["search_path"] = pgx.Identifier{cfg.schema}.Sanitize()
	if connCfg.ConnectTimeout == 0 || connCfg.ConnectTimeout > cfg.timeout {
		connCfg.ConnectTimeout = cfg.timeout
	}

	s := &Store{
		pool:      newPool(connCfg, cfg.maxConns),
		listenCfg: connCfg,
		schema:    cfg.schema,
		channel:   channelName(cfg.schema),
		timeout:   cfg.timeout,
		heartbeat: cfg.heartbeat,
		watches:   map[*watch]struct{}{},
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.close()
		return nil, err
	}
	s.open.Store(true)
	return s, nil
}

// Close closes the store's connections and ends every running Watch; every
// later call, Close included, returns an error wrapping store.ErrClosed.
// Calls running when Close is called may fail with store.ErrClosed too.
func (s *Store) Close() error {
	if !s.open.CompareAndSwap(true, false) {
		return fmt.Errorf("%s close: %w", prefix, store.ErrClosed)
	}
	s.watchMu.Lock()
	for w := range s.watches {
		w.cancel(store.ErrClosed)
	}
	s.watchMu.Unlock()
	s.pool.close()
	return nil
}

// Schema returns the name of the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// channelName derives the notification channel of a schema. Channel names
// are identifiers, at most 63 bytes: a long schema name is replaced by its
// hash.
func channelName(schema string) string {
	name := "agenttrust." + schema
	if len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(schema))
	return "agenttrust." + hex.EncodeToString(sum[:16])
}

// ready reports whether op may run: the store is open and ctx is live.
func (s *Store) ready(ctx context.Context, op string) error {
	if !s.open.Load() {
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", prefix, op, err)
	}
	return nil
}

// Times are stored as Unix nanoseconds, NULL for the zero time. The
// instants int64 nanoseconds can hold run from 1677-09-21 to 2262-04-11.

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// storedTime encodes t for storage; a non-zero t outside the range yields
// an error wrapping store.ErrInvalid.
func storedTime(what string, t time.Time) (pgtype.Int8, error) {
	if t.IsZero() {
		return pgtype.Int8{}, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return pgtype.Int8{}, fmt.Errorf("%s %s %s is outside the storable range %d to %d: %w",
			prefix, what, t.Format(time.RFC3339Nano), minTime.Year(), maxTime.Year(), store.ErrInvalid)
	}
	return pgtype.Int8{Int64: t.UnixNano(), Valid: true}, nil
}

// compareTime encodes t for comparison with stored times: one outside the
// range is clamped, which compares the same with every storable time.
func compareTime(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// loadTime decodes a stored time, in UTC.
func loadTime(v pgtype.Int8) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}
