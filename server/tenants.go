package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/observe"
)

// tenant is the server's state for one tenant. Requests hold it between
// acquire (in Server.tenant) and Server.release; an idle tenant, held by none,
// can be closed (WithTenantIdle).
type tenant struct {
	client *agenttrust.Client
	wake   *wake // signalled when this node writes audit records

	active   atomic.Int64 // requests holding it
	lastUsed atomic.Int64 // Unix nanoseconds of the server clock, at the last release
	evicted  atomic.Bool  // set before it is closed; holders that see it let go
	pinned   atomic.Bool  // handed out by Server.Client: never evicted
}

// acquire takes a hold on t; false if t is being evicted.
func (t *tenant) acquire() bool {
	t.active.Add(1)
	if t.evicted.Load() {
		t.active.Add(-1)
		return false
	}
	return true
}

// release lets go of a hold on t taken by tenant. The clock is read
// only when idle tenants are evicted: nothing else uses lastUsed.
func (s *Server) release(t *tenant) {
	if s.idle > 0 {
		t.lastUsed.Store(s.now().UnixNano())
	}
	t.active.Add(-1)
}

// WithTenantIdle closes a tenant's Client once no request has used it for
// d, so a server that many tenants pass through holds only the busy ones:
// each open Client polls its policy, and in notify mode keeps a change
// feed (on PostgreSQL a connection) of its own. The next request for the
// tenant opens it again: its revocation view and token cache start cold,
// its audit chain goes on where it stopped. A tenant whose node-scope
// rate limits, runaway breaker or cap on open approvals hold state
// (agenttrust.Stats.RateState) stays open until they have refilled,
// their windows have passed or its approvals have lapsed, so that closing
// it never hands its agents a fresh burst or count; and one whose audit
// queue holds records not yet written (a sink down) stays open until they
// are, so that an outage longer than d loses none.
//
// Use it only with master and signing keys shared through
// WithClientOptions: a Client with keys of its own loses them when it is
// closed, and every token and JWT it issued with them.
func WithTenantIdle(d time.Duration) Option {
	return func(s *Server) error {
		if d <= 0 {
			return fmt.Errorf("%w: tenant idle time must be positive", agenttrust.ErrInvalidConfig)
		}
		s.idle = d
		return nil
	}
}

// Client returns the Client of tenant, opening it if needed, whether or
// not the tenant has keys yet: use it to bootstrap a tenant (create its
// first admin key, save its policy) from the process that runs the server.
// The tenant stays open until Close.
func (s *Server) Client(ctx context.Context, name string) (*agenttrust.Client, error) {
	t, err := s.tenant(ctx, name, false)
	if err != nil {
		return nil, err
	}
	t.pinned.Store(true)
	s.release(t)
	return t.client, nil
}

// errNoTenant: a credential names a tenant with no keys.
var errNoTenant = fmt.Errorf("%w: unknown tenant", errs.UnknownKey)

// tenant returns the state of a tenant, held for the caller, who must
// release it; it opens the tenant's Client on first use. With mustExist, a
// tenant that has no key in the store is refused with errNoTenant, so a
// forged token cannot make the server open clients for made-up tenants.
func (s *Server) tenant(ctx context.Context, name string, mustExist bool) (*tenant, error) {
	if t := (*s.tenants.Load())[name]; t != nil && t.acquire() {
		return t, nil
	}
	if err := validTenant(name); err != nil {
		if mustExist {
			return nil, errNoTenant
		}
		return nil, fmt.Errorf("%w: %v", agenttrust.ErrInvalidRequest, err)
	}
	if mustExist {
		if err := s.tenantExists(ctx, name); err != nil {
			return nil, err
		}
	}
	for {
		t, wait, op, err := s.openTenant(name)
		if t != nil || err != nil {
			return t, err
		}
		// Another request is opening the tenant, or its previous Client
		// is still writing out its audit queue (a second writer on its
		// chain would fork it): wait for that, or for the end of this
		// request, whichever comes first.
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: tenant %q is not open yet: %w", agenttrust.ErrStoreUnavailable, name, ctx.Err())
		}
		if op != nil && op.err != nil {
			return nil, op.err
		}
	}
}

// tenantExists returns errNoTenant unless tenant has a key in the
// store. Listing its keys costs as many as it has, so a tenant found to
// have some is remembered (keys are never deleted): requests naming a
// tenant that is not open, such as forged credentials while its opening
// fails, do not each list every key of it.
func (s *Server) tenantExists(ctx context.Context, name string) error {
	if _, ok := s.known.Get(name); ok {
		return nil
	}
	ks, err := s.st.Keys(ctx, name)
	if err != nil {
		return fmt.Errorf("%w: list keys: %w", agenttrust.ErrStoreUnavailable, err)
	}
	if len(ks) == 0 {
		return errNoTenant
	}
	// A copy: the name may share memory with the whole credential.
	s.known.Put(strings.Clone(name), struct{}{}, int64(len(name))+64)
	return nil
}

// tenantOptions appends to opts what every Client of the server holds:
// the server's client options, then the tenant, its audit chain (named
// chain after the node) and key, and the server's clock.
func (s *Server) tenantOptions(opts []agenttrust.Option, tenant, chain string) []agenttrust.Option {
	opts = append(opts, s.clientOpts...)
	opts = append(opts, agenttrust.WithTenant(tenant), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: s.node + "/" + chain, Key: s.auditKey}))
	if s.clock != nil {
		opts = append(opts, agenttrust.WithClock(s.clock))
	}
	return opts
}

// opening is a tenant's Client being built: done is closed once it is in
// the map (err nil) or could not be made.
type opening struct {
	done chan struct{}
	err  error
}

// openTenant returns the tenant, held; or, when it is not open, a
// channel to wait on before asking again: the one of the tenant's
// opening, started here if none is under way (op, whose err then says
// whether it failed), or, while its previous Client is being closed, one
// closed when that is done.
//
// The Client is built outside s.mu, by one goroutine per tenant, so a
// store slow or hung for one tenant (its policy, its audit head) holds
// up only the requests for that tenant, and each of those only until it
// ends; every other tenant opens and answers meanwhile.
func (s *Server) openTenant(name string) (*tenant, <-chan struct{}, *opening, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, nil, nil, agenttrust.ErrClosed
	}
	if ch := s.closing[name]; ch != nil {
		return nil, ch, nil, nil
	}
	if t := (*s.tenants.Load())[name]; t != nil && t.acquire() {
		// Under s.mu no eviction is under way, so acquire fails only on
		// a tenant already out of the map.
		return t, nil, nil, nil
	}
	op := s.opening[name]
	if op == nil {
		op = &opening{done: make(chan struct{})}
		s.opening[name] = op
		s.opens.Add(1)
		go s.open(name, op)
	}
	return nil, op.done, op, nil
}

// open builds the Client of tenant name, puts it in the map and closes
// op.done. It runs without s.mu while the Client is built.
func (s *Server) open(name string, op *opening) {
	defer s.opens.Done()
	t := &tenant{wake: newWake()}
	opts := make([]agenttrust.Option, 0, len(s.clientOpts)+7)
	var sink agenttrust.AuditSink = audit.NewStoreSink(s.st)
	if s.checkpts != nil {
		sink = s.checkpts.StoreSink(s.st)
	}
	opts = append(opts,
		agenttrust.WithLogger(s.log),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink, t.wake}}),
	)
	c, err := agenttrust.New(s.st, s.tenantOptions(opts, name, name)...)
	if err != nil {
		if errors.Is(err, agenttrust.ErrChainBroken) {
			s.metrics.chainBreaks.Add(1)
			s.event(context.Background(), observe.Event{Kind: observe.ChainBreak, Tenant: name})
			s.log.Error("agenttrust/server: AUDIT CHAIN BROKEN: the tenant's chain in the store differs from its checkpoint; the tenant is not opened", "tenant", name, "err", err)
		}
		err = fmt.Errorf("open tenant %q: %w", name, err)
	}
	s.mu.Lock()
	delete(s.opening, name)
	closed := s.closed.Load()
	if err == nil && !closed {
		t.client = c
		t.lastUsed.Store(s.now().UnixNano())
		old := *s.tenants.Load()
		m := make(map[string]*tenant, len(old)+1)
		for k, v := range old {
			m[k] = v
		}
		m[name] = t
		s.tenants.Store(&m)
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		op.err = err
	case closed:
		// The server closed while the Client was built: nobody holds
		// it, and it has written nothing.
		if cerr := c.Close(); cerr != nil {
			s.log.Warn("agenttrust/server: closing a tenant opened during Close failed", "tenant", name, "err", cerr)
		}
		op.err = agenttrust.ErrClosed
	default:
		s.metrics.tenantsOpened.Add(1)
		s.event(context.Background(), observe.Event{Kind: observe.TenantOpened, Tenant: name})
	}
	close(op.done)
}

// evictIdle runs until the server closes, closing every tenant idle for
// s.idle, checked every quarter of it.
func (s *Server) evictIdle() {
	defer close(s.evictDone)
	tick := time.NewTicker(max(s.idle/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			s.evictIdleOnce()
		}
	}
}

// evictIdleOnce closes the tenants no request has held for s.idle.
func (s *Server) evictIdleOnce() {
	cutoff := s.now().Add(-s.idle).UnixNano()
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	old := *s.tenants.Load()
	var gone map[string]*tenant
	for name, t := range old {
		if t.pinned.Load() || t.active.Load() != 0 || t.lastUsed.Load() > cutoff {
			continue
		}
		if st := t.client.Stats(); st.RateState || st.AuditQueued > 0 {
			// Its node rate limits, breaker or open approvals still
			// hold what its agents spent; a reopened client would start
			// them afresh. Or its audit queue holds records a sink has
			// not taken yet: Close would give them up after its drain
			// bound, where the open client writes them once the sink
			// is back.
			continue
		}
		// A request that took hold after the check above sees evicted
		// and opens the tenant afresh, once this Client is closed; one
		// that took hold before it is seen here, and the tenant stays.
		t.evicted.Store(true)
		if t.active.Load() != 0 {
			t.evicted.Store(false)
			continue
		}
		if gone == nil {
			gone = map[string]*tenant{}
		}
		gone[name] = t
	}
	if gone == nil {
		s.mu.Unlock()
		return
	}
	m := make(map[string]*tenant, len(old)-len(gone))
	for name, t := range old {
		if gone[name] == nil {
			m[name] = t
		}
	}
	s.tenants.Store(&m)
	done := make(chan struct{})
	for name := range gone {
		s.closing[name] = done
	}
	s.mu.Unlock()

	var errs []error
	for name, t := range gone {
		if err := t.client.Close(); err != nil {
			errs = append(errs, fmt.Errorf("tenant %q: %w", name, err))
		}
		s.log.Debug("agenttrust/server: closed idle tenant", "tenant", name)
	}
	if err := errors.Join(errs...); err != nil {
		s.log.Warn("agenttrust/server: closing an idle tenant failed", "err", err)
	}
	s.metrics.tenantsClosed.Add(uint64(len(gone)))
	for name := range gone {
		s.event(context.Background(), observe.Event{Kind: observe.TenantClosed, Tenant: name})
	}
	s.mu.Lock()
	for name := range gone {
		delete(s.closing, name)
	}
	s.mu.Unlock()
	close(done)
}
