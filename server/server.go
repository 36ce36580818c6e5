package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/cache"
	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/internal/safelog"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// Server is the HTTP JSON API of agenttrust over a store: an http.Handler
// to mount in a host's mux or run with http.Server. It keeps one
// agenttrust.Client per tenant, opened on first use with the shared
// options. Build one with New (the zero Server is not usable); it is safe
// for concurrent use. Close it to flush every tenant's audit trail.
type Server struct {
	st         store.Store
	clientOpts []agenttrust.Option
	trusted    []netip.Prefix
	node       string
	log        *slog.Logger
	access     *slog.Logger // WithAccessLog; nil logs no requests
	// accessLines writes the access log without slog, with
	// WithAccessLogText or WithAccessLogJSON.
	accessLines *accessLines
	random      io.Reader // WithRandom
	reqIDs      requestIDs
	system      string
	storeAPI    http.Handler
	clock       func() time.Time // nil: the system clock
	poll        time.Duration    // audit stream: how often the store is read
	bodyWait    time.Duration    // WithBodyTimeout
	scrapeHash  *[32]byte        // SHA-256 of the WithMetricsToken token
	idle        time.Duration    // WithTenantIdle; 0 keeps every tenant open
	auditKey    agenttrust.AuditKey
	checkpts    *audit.Checkpoints // nil without WithAuditCheckpoints
	obs         observe.Observer   // nil without WithObserver
	metricsH    http.Handler       // WithMetricsHandler; nil: the built-in exposition

	console func(http.Handler) (http.Handler, error) // WithConsole

	mux    *http.ServeMux
	routes []*route
	issuer string // WithIssuer; "" serves no OAuth

	mu        sync.Mutex // serialises opening, evicting and closing tenants
	tenants   atomic.Pointer[map[string]*tenant]
	closing   map[string]<-chan struct{} // tenants being evicted, closed when done
	opening   map[string]*opening        // tenants whose Client is being built
	opens     sync.WaitGroup             // goroutines building a tenant's Client
	openWait  time.Duration              // how long Close waits for them (openWait)
	evictDone chan struct{}              // closed when evictIdle returns
	creds     credCache
	waits     waits // long polls held by each API key
	streams   waits // audit streams held by each API key
	metrics   metrics

	// known holds tenants seen to have keys, which they keep (keys are
	// never deleted): a request naming one is not made to list its keys
	// again to learn that it exists (tenantExists).
	known *cache.Cache[string, struct{}]

	// stranger answers for tokens and JWTs of tenants with no keys
	// (unknownTenant); nil until first needed.
	strangerMu sync.Mutex
	stranger   *agenttrust.Client

	// ctx is cancelled by Close, ending long polls and streams.
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool
}

// Option configures New.
type Option func(*Server) error

// WithClientOptions adds options to every tenant's Client: master and
// signing keys (agenttrust.WithTokens) shared by every node, JWT issuer and audience, notify mode, extra audit
// sinks, approval TTLs, a policy engine. The server sets the tenant, the
// audit chain and the store sink itself; options given here come after
// those, except WithTenant and WithAuditChain, which the server overrides.
//
// Without master and signing keys, each tenant Client makes random ones:
// its tokens then die with the process and no other node verifies them.
func WithClientOptions(opts ...agenttrust.Option) Option {
	return func(s *Server) error {
		for _, o := range opts {
			if o == nil {
				return fmt.Errorf("%w: nil client option", agenttrust.ErrInvalidConfig)
			}
		}
		s.clientOpts = append(s.clientOpts, opts...)
		return nil
	}
}

// WithTrustedProxies names the reverse proxies whose X-Forwarded-For
// header is believed. When the connection comes from one of prefixes, the
// caller's address is the right-most hop of X-Forwarded-For that is not
// itself a trusted proxy. From any other peer the header is not believed:
// the caller's address is the connection's when the header is absent, and
// unknown (no IP allowlist or "ip" caveat accepts it) when it is present.
// So a client cannot forge its address, which IP allowlists and "ip"
// caveats depend on, and a service forwarding its callers' addresses
// (remote.Client.Check and Authenticate) does not have them judged by its
// own.
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return func(s *Server) error {
		for _, p := range prefixes {
			if !p.IsValid() {
				return fmt.Errorf("%w: invalid trusted proxy prefix", agenttrust.ErrInvalidConfig)
			}
			s.trusted = append(s.trusted, p.Masked())
		}
		return nil
	}
}

// WithNodeName names this server process (default: the host name). Each
// tenant's audit chain on this node is "<node>/<tenant>", so every process
// sharing a store needs a name of its own. It must be 1-64 bytes of
// letters, digits, '.', '_' or '-'.
func WithNodeName(name string) Option {
	return func(s *Server) error {
		if !validNodeName(name) {
			return fmt.Errorf("%w: node name must be 1-64 letters, digits, '.', '_' or '-'", agenttrust.ErrInvalidConfig)
		}
		s.node = name
		return nil
	}
}

// WithLogger sets where the server and its tenant Clients log trouble
// (server errors, failing audit sinks). The default discards. A handler
// that panics loses the line it was given, never the request or the
// process.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", agenttrust.ErrInvalidConfig)
		}
		// Logged to from the server's own goroutines (the idle-tenant
		// sweeper): a handler that panics loses its line, never the
		// process.
		s.log = safelog.Logger(l)
		return nil
	}
}

// WithAccessLog writes one line per request to l at level Info, once
// its answer is sent: method, route pattern (not the path), status,
// latency, tenant, request id and, for a check, the decision id that
// names its audit record. No header, query or body is logged, so no
// credential is. Without it no request is logged. WithAccessLogText and
// WithAccessLogJSON write the lines of slog's own handlers, faster.
func WithAccessLog(l *slog.Logger) Option {
	return func(s *Server) error {
		if l == nil {
			return fmt.Errorf("%w: nil access logger", agenttrust.ErrInvalidConfig)
		}
		s.access, s.accessLines = l, nil
		return nil
	}
}

// WithRandom sets the server's source of randomness (default
// crypto/rand): the random half of the request ids it makes, and its
// audit key when WithAuditKey is not given. It is read only while New
// runs.
func WithRandom(r io.Reader) Option {
	return func(s *Server) error {
		if r == nil {
			return fmt.Errorf("%w: nil random source", agenttrust.ErrInvalidConfig)
		}
		s.random = r
		return nil
	}
}

// WithSystemTenant names the operator's tenant. Its admins may create the
// first admin key of another tenant (POST /v1/tenants/{tenant}/keys), use
// the store API (WithStoreAPI), and, with its approvers, read /metrics.
// Without it those routes answer 403 to everyone.
func WithSystemTenant(name string) Option {
	return func(s *Server) error {
		if err := validTenant(name); err != nil {
			return fmt.Errorf("%w: system tenant: %v", agenttrust.ErrInvalidConfig, err)
		}
		s.system = name
		return nil
	}
}

// WithStoreAPI mounts h at /v1/store/, behind authentication as an admin
// of the system tenant. h sees the path with "/v1/store" stripped.
func WithStoreAPI(h http.Handler) Option {
	return func(s *Server) error {
		if h == nil {
			return fmt.Errorf("%w: nil store API handler", agenttrust.ErrInvalidConfig)
		}
		s.storeAPI = h
		return nil
	}
}

// WithClock sets the clock of the server and of every tenant Client
// (after any agenttrust.WithClock given to WithClientOptions).
func WithClock(now func() time.Time) Option {
	return func(s *Server) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", agenttrust.ErrInvalidConfig)
		}
		s.clock = now
		return nil
	}
}

// WithAuditPoll sets how often an audit stream reads the store for records
// written by other nodes (default 1s). Records written by this node are
// streamed as soon as they are stored.
func WithAuditPoll(d time.Duration) Option {
	return func(s *Server) error {
		if d <= 0 {
			return fmt.Errorf("%w: audit poll interval must be positive", agenttrust.ErrInvalidConfig)
		}
		s.poll = d
		return nil
	}
}

// DefaultBodyTimeout is how long a request body may take to arrive
// unless WithBodyTimeout says otherwise.
const DefaultBodyTimeout = 30 * time.Second

// WithBodyTimeout bounds how long a request's body may take to arrive,
// from the moment its handler starts (default DefaultBodyTimeout): a
// client that sends its body slowly, or never finishes it, gets 408 and
// its connection is closed, instead of holding a connection and a
// goroutine for as long as it likes. Only requests with a body are
// bounded: the audit stream and the long poll of an approval take none
// and run as long as they need. The bound is a read deadline on the
// connection (http.ResponseController), so it needs a server that
// supports one, as net/http's does.
func WithBodyTimeout(d time.Duration) Option {
	return func(s *Server) error {
		if d <= 0 {
			return fmt.Errorf("%w: body timeout must be positive", agenttrust.ErrInvalidConfig)
		}
		s.bodyWait = d
		return nil
	}
}

// WithAuditKey keys every tenant's audit chain with key (it overrides an
// agenttrust.WithAuditKey given to WithClientOptions), and GET
// /v1/audit/verify checks chains with it. Every node sharing a store
// needs the same key. Without it the server makes a random key: chains
// then verify only until the process ends.
func WithAuditKey(key agenttrust.AuditKey) Option {
	return func(s *Server) error {
		if key == (agenttrust.AuditKey{}) {
			return fmt.Errorf("%w: zero audit key", agenttrust.ErrInvalidConfig)
		}
		s.auditKey = key
		return nil
	}
}

// Bounds of a metrics scrape token.
const (
	MinMetricsTokenLen = 32
	maxMetricsTokenLen = 512
)

// WithMetricsToken lets a scraper read /metrics with "Authorization:
// Bearer <token>", and nothing else: the token has the metrics role
// (store.RoleMetrics) on that route only, and is not a credential on
// any other route or to any Client, which never learn it. Checking it
// needs no store, so metrics can be scraped while the store is down,
// when they matter most. The token must be 32-512 printable ASCII
// characters without spaces, and must not look like an agenttrust
// credential (atk_, att_, eyJ). It is kept as its SHA-256 and compared in
// constant time; to change it, restart with a new one.
func WithMetricsToken(token string) Option {
	return func(s *Server) error {
		if err := validScrapeToken(token); err != nil {
			return fmt.Errorf("%w: metrics token: %v", agenttrust.ErrInvalidConfig, err)
		}
		h := sha256.Sum256([]byte(token))
		s.scrapeHash = &h
		return nil
	}
}

// WithAuditCheckpoints checkpoints the head of each tenant's chain in cp
// as its records are stored. A tenant whose stored chain ends before its
// checkpoint, or differs from it, is not opened (its requests fail with
// 503), and GET /v1/audit/verify reports such a chain broken. cp must be
// made with the key of WithAuditKey; the server does not close it.
func WithAuditCheckpoints(cp *audit.Checkpoints) Option {
	return func(s *Server) error {
		if cp == nil {
			return fmt.Errorf("%w: nil audit checkpoints", agenttrust.ErrInvalidConfig)
		}
		s.checkpts = cp
		return nil
	}
}

// WithObserver tells o of every tenant's checks and events (as
// agenttrust.WithObserver does for one Client) and of the server's own:
// each HTTP request answered (route, status code, latency), store
// failures, tenants opened and closed, audit chain breaks. The
// OpenTelemetry module (github.com/agenttrust/agenttrust/otel) provides
// one.
func WithObserver(o observe.Observer) Option {
	return func(s *Server) error {
		if o == nil {
			return fmt.Errorf("%w: nil observer", agenttrust.ErrInvalidConfig)
		}
		s.obs = o
		s.clientOpts = append(s.clientOpts, agenttrust.WithObserver(o))
		return nil
	}
}

// WithMetricsHandler serves GET /metrics with h (a Prometheus client
// library's handler, say) instead of the server's built-in exposition,
// behind the same authentication: admins and approvers of the system
// tenant, or the scrape token of WithMetricsToken. The built-in
// exposition, kept for embedders that mount none, has the counters of
// checks, HTTP requests by status class, store errors, tenants and the
// audit queue, and no dependency.
func WithMetricsHandler(h http.Handler) Option {
	return func(s *Server) error {
		if h == nil {
			return fmt.Errorf("%w: nil metrics handler", agenttrust.ErrInvalidConfig)
		}
		s.metricsH = h
		return nil
	}
}

// New returns a server over st. It opens no tenant yet: each tenant's
// Client is built on the first request that names it.
func New(st store.Store, opts ...Option) (*Server, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", agenttrust.ErrInvalidConfig)
	}
	s := &Server{st: st, random: rand.Reader, poll: time.Second, bodyWait: DefaultBodyTimeout}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", agenttrust.ErrInvalidConfig)
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if s.node == "" {
		host, err := os.Hostname()
		if err != nil || !validNodeName(host) {
			host = "agenttrust"
		}
		s.node = host
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// The audit key may be drawn from it: a source that breaks without
	// an error fails New rather than make the key guessable.
	s.random = entropy.NewReader(s.random)
	if s.auditKey == (agenttrust.AuditKey{}) {
		secret := make([]byte, 32)
		if _, err := io.ReadFull(s.random, secret); err != nil {
			return nil, fmt.Errorf("%w: audit key: %w", agenttrust.ErrInvalidConfig, err)
		}
		s.auditKey, _ = agenttrust.NewAuditKey(secret) // 32 bytes: cannot fail
		clear(secret)
	}
	var seed [8]byte
	if _, err := io.ReadFull(s.random, seed[:]); err != nil {
		return nil, fmt.Errorf("%w: read random source: %w", agenttrust.ErrInvalidConfig, err)
	}
	s.reqIDs.init(seed)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	empty := map[string]*tenant{}
	s.tenants.Store(&empty)
	s.closing = map[string]<-chan struct{}{}
	s.opening = map[string]*opening{}
	s.openWait = openWait
	s.creds.init()
	s.known = cache.New[string, struct{}](maxKnownTenants, maxKnownTenantBytes)
	s.routes = routeTable()
	s.metrics.init(len(s.routes))
	s.mux = http.NewServeMux()
	for i, rt := range s.routes {
		if rt.optional && s.storeAPI == nil {
			continue
		}
		s.mux.Handle(rt.pattern(), s.handler(i, rt))
	}
	if err := s.mountConsole(); err != nil {
		s.cancel()
		return nil, err
	}
	s.mux.HandleFunc("/", s.notFound)
	if s.idle > 0 {
		s.evictDone = make(chan struct{})
		go s.evictIdle()
	}
	return s, nil
}

// ServeHTTP implements http.Handler. A request with a body has until the
// body timeout for it, whoever answers it: a route, the console, the
// unknown-path handler, or the mux itself, which redirects a path that is
// not clean (and "/ui" asked with another method than GET) without
// calling any of them. net/http reads what a handler left of a body
// before it writes the answer, and that read must be bounded too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if hasBody(r) {
		s.boundBody(w, r)
	}
	s.mux.ServeHTTP(w, r)
}

// Close ends every long poll and audit stream, then closes every tenant
// Client, writing out its queued audit records. It does not close the
// store. Requests after Close fail with 503.
func (s *Server) Close() error {
	s.cancel()
	if s.evictDone != nil {
		<-s.evictDone // an eviction under way has closed its tenants
	}
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	err := s.closeTenants()
	s.mu.Unlock()
	// A Client still being built is closed by its builder, which sees
	// the server closed: wait for that, so none outlives Close; but only
	// so long, since a builder waits on the store without a deadline
	// (agenttrust.New), and a store that never answers must not hold a
	// shutdown for ever.
	built := make(chan struct{})
	go func() {
		s.opens.Wait()
		close(built)
	}()
	timer := time.NewTimer(s.openWait)
	defer timer.Stop()
	select {
	case <-built:
	case <-timer.C:
		s.log.Warn("agenttrust/server: Close left a tenant still being opened: the store has not answered; its Client is closed once it does")
	}
	return err
}

// openWait bounds how long Close waits for tenants being opened.
const openWait = 10 * time.Second

// closeTenants closes every open tenant's Client and the one for unknown
// tenants; s.mu is held.
func (s *Server) closeTenants() error {
	// Tenants close at once, not one after another: each may spend its
	// whole audit drain bound on a store that is down, and a shutdown must
	// not take that bound times the number of tenants.
	tenants := *s.tenants.Load()
	errs := make([]error, 0, len(tenants))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, t := range tenants {
		wg.Go(func() {
			if err := t.client.Close(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("tenant %q: %w", name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := s.closeStranger(); err != nil {
		errs = append(errs, fmt.Errorf("client for unknown tenants: %w", err))
	}
	return errors.Join(errs...)
}

// validTenant: 1-128 bytes of UTF-8 without control characters. (A
// tenant may hold '/': node names cannot, so "<node>/<tenant>" is
// unambiguous.)
func validTenant(name string) error {
	if name == "" || len(name) > 128 {
		return errors.New("tenant must be 1-128 bytes")
	}
	if !utf8.ValidString(name) {
		return errors.New("tenant is not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("control character in tenant")
		}
	}
	return nil
}

func validNodeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// wake is an audit sink that writes nothing: it tells audit streams on
// this node that their tenant has new records in the store (it runs after
// the store sink).
type wake struct {
	mu sync.Mutex
	ch chan struct{}
}

func newWake() *wake { return &wake{ch: make(chan struct{})} }

// Write implements agenttrust.AuditSink.
func (w *wake) Write(context.Context, []agenttrust.AuditRecord) error {
	w.mu.Lock()
	close(w.ch)
	w.ch = make(chan struct{})
	w.mu.Unlock()
	return nil
}

// wait returns a channel closed at the next Write.
func (w *wake) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

// credCache maps the SHA-256 of a credential to the tenant it claims, so
// that a repeated credential skips the unverified parse and, for an API
// key, the store lookup. What it holds is unverified, like the function's
// answer: every request is still authenticated in full. The claim is
// chosen by whoever sends the credential, so the cache is bounded in
// entries and in bytes; a flood of one-off credentials evicts itself
// before those in use.
type credCache struct {
	c *cache.Cache[[32]byte, string]
}

const (
	maxCachedCreds     = 1 << 14
	maxCachedCredBytes = 4 << 20
	// Tenants remembered to exist (Server.known); past that, the least
	// recently named is listed again when next named.
	maxKnownTenants     = 1 << 14
	maxKnownTenantBytes = 2 << 20
)

func (c *credCache) init() { c.c = cache.New[[32]byte, string](maxCachedCreds, maxCachedCredBytes) }

func (c *credCache) get(h [32]byte) (string, bool) { return c.c.Get(h) }

func (c *credCache) put(h [32]byte, tenant string) {
	// A copy: the claim may share memory with the whole credential.
	c.c.Put(h, strings.Clone(tenant), int64(len(h)+len(tenant)))
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
