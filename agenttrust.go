package agenttrust

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust/internal/cache"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/internal/mac"
	"github.com/agenttrust/agenttrust/internal/safelog"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// Checker answers one authorization question. *Client answers it locally;
// the remote package answers it over HTTP. Implementations must be safe
// for concurrent use: *Client and the remote client are.
type Checker interface {
	Check(ctx context.Context, req Request) (Decision, error)
}

// CheckerFunc adapts a function to Checker. It is safe for concurrent use
// if the function is. A nil CheckerFunc panics when called, as a nil
// function does.
type CheckerFunc func(ctx context.Context, req Request) (Decision, error)

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, req Request) (Decision, error) { return f(ctx, req) }

// DefaultTenant is the tenant of a client built without WithTenant.
const DefaultTenant = "default"

// Client makes authorization decisions and keeps their audit trail. Build
// one with New; it is safe for concurrent use. Close it to flush the audit.
// The zero Client is not usable.
type Client struct {
	store    store.Store
	tenant   string
	clock    clock
	random   io.Reader
	log      *slog.Logger
	ids      *idSource
	audit    *auditor
	redact   redactor
	notifier notifier
	obs      observe.Observer // nil: none
	breaker  *breaker
	auditKey AuditKey
	shadow   *shadowPolicy // nil: none

	pendingTTL time.Duration
	grantTTL   time.Duration
	latency    bool

	policy atomic.Pointer[policyState]
	// nodes are the node-scope rate-limit buckets, kept across policies.
	nodes nodeBuckets
	// policyVersion is the stored version live now, 0 when the policy was
	// given in code (then store changes are not followed).
	policyVersion atomic.Int64
	// policyMu orders the installs of stored versions (installPolicy).
	policyMu sync.Mutex
	// policyInstalls counts the installs, under policyMu: SavePolicy
	// tells by it that none came between its save and its install.
	policyInstalls uint64
	// ownEngine: WithPolicyEngine, which SavePolicy must not replace.
	ownEngine bool
	view      *view // notify mode; nil in strict mode
	bg        context.CancelFunc
	bgDone    chan struct{}
	pool      sync.Pool
	closed    atomic.Bool

	// Credentials.
	keyring   *keyring
	signing   *signingKeys
	issuer    string
	audiences []string
	tokenTTL  time.Duration
	keys      boundedCache[[32]byte, *keyEntry] // API keys by secret hash
	rootKeys  boundedCache[string, []string]    // roles of a token's root key, by key id
	tokens    *cache.Cache[string, any]         // verified tokens and JWTs by their text
	// tokenCacheOff: TokenConfig.NoCache, every use verifies afresh.
	tokenCacheOff bool
	bufs          sync.Pool // *[]byte for decoding tokens
	hashers       sync.Pool // *mac.Hasher

	// approvalsChanged is closed and replaced whenever this client decides
	// an approval, waking WaitApproval callers.
	approvalMu       sync.Mutex
	approvalsChanged chan struct{}
	// approvalTurns serialise, per fingerprint stripe, the finding and
	// opening of a pending approval (see resolveApproval): each holds a
	// token while no check holds it.
	approvalTurns [approvalStripes]chan struct{}
	// open counts the approvals each agent holds open (openApprovalSet).
	open openApprovalSet
}

// policyState is swapped atomically on reload, so a check sees one
// consistent engine and limit set.
type policyState struct {
	engine   PolicyEngine
	compiled *compiled // nil for engines other than the built-in one
	limiter  *limiter
}

// New returns a client over st. With no options it uses the built-in rule
// engine (the tenant's stored policy, or deny everything), keeps the last
// 10,000 audit records in memory and reads the system clock.
func New(st store.Store, opts ...Option) (*Client, error) {
	if isNil(st) {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidConfig)
	}
	cfg := config{
		tenant:       DefaultTenant,
		chain:        "default",
		clock:        newSystemClock(),
		random:       rand.Reader,
		queueSize:    1 << 16,
		stuckAfter:   5 * time.Second,
		writeTimeout: 5 * time.Second,
		drainTimeout: 15 * time.Second,
		pendingTTL:   15 * time.Minute,
		grantTTL:     5 * time.Minute,
		tokenTTL:     defaultTokenTTL,
		issuer:       "agenttrust",

		tokenCacheEntries: defaultTokenCacheEntries,
		tokenCacheBytes:   defaultTokenCacheBytes,
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.tenant == "" || len(cfg.tenant) > 128:
		return nil, fmt.Errorf("%w: tenant must be 1-128 bytes", ErrInvalidConfig)
	case cfg.chain == "" || len(cfg.chain) > 128:
		return nil, fmt.Errorf("%w: audit chain name must be 1-128 bytes", ErrInvalidConfig)
	case cfg.clock == nil || isNil(cfg.random):
		return nil, fmt.Errorf("%w: nil clock or random source", ErrInvalidConfig)
	case cfg.queueSize < 1 || cfg.stuckAfter <= 0 || cfg.writeTimeout <= 0 || cfg.drainTimeout <= 0:
		return nil, fmt.Errorf("%w: audit queue size and timeouts must be positive", ErrInvalidConfig)
	case cfg.pendingTTL <= 0 || cfg.grantTTL <= 0:
		return nil, fmt.Errorf("%w: approval TTLs must be positive", ErrInvalidConfig)
	case cfg.tokenTTL <= 0 || cfg.tokenTTL > 24*time.Hour:
		return nil, fmt.Errorf("%w: token TTL must be positive and at most 24h", ErrInvalidConfig)
	case (cfg.tokenCacheEntries != 0 || cfg.tokenCacheBytes != 0) && (cfg.tokenCacheEntries < 1 || cfg.tokenCacheBytes < 1):
		return nil, fmt.Errorf("%w: token cache bounds must be positive, or both 0 for no cache", ErrInvalidConfig)
	case cfg.issuer == "":
		return nil, fmt.Errorf("%w: empty JWT issuer", ErrInvalidConfig)
	case cfg.policyErr != nil:
		return nil, cfg.policyErr
	case cfg.nilEngine || cfg.engine != nil && isNil(cfg.engine):
		return nil, fmt.Errorf("%w: WithPolicyEngine of a nil engine", ErrInvalidConfig)
	case cfg.policy != nil && cfg.engine != nil:
		return nil, fmt.Errorf("%w: WithPolicy and WithPolicyEngine are exclusive", ErrInvalidConfig)
	}
	for _, s := range cfg.sinks {
		if isNil(s) {
			return nil, fmt.Errorf("%w: nil audit sink", ErrInvalidConfig)
		}
	}
	if cfg.observer != nil && isNil(cfg.observer) {
		return nil, fmt.Errorf("%w: nil observer", ErrInvalidConfig)
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	} else {
		// Logged to from the client's own goroutines: a handler that
		// panics loses its line, never the process.
		cfg.log = safelog.Logger(cfg.log)
	}
	if len(cfg.sinks) == 0 {
		cfg.sinks = []AuditSink{newMemorySink(10_000)}
	}
	// Keys, ids and secrets are drawn from it: a source that breaks
	// without an error (zeros, one byte repeated, no bytes) fails what
	// draws on it rather than make them guessable, and one that panics
	// fails the read rather than the caller.
	cfg.random = entropy.NewReader(recoveringReader{cfg.random})
	ids, err := newIDSource(cfg.random)
	if err != nil {
		return nil, fmt.Errorf("%w: read random source: %w", ErrInvalidConfig, err)
	}
	var auditKey AuditKey
	if cfg.auditKey != nil {
		auditKey = *cfg.auditKey
	} else {
		// From the system's generator, not WithRandom: a key is not test
		// data, and a source replayed in tests would make it guessable.
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("%w: read random source: %w", ErrInvalidConfig, err)
		}
		auditKey, _ = NewAuditKey(secret) // 32 bytes: cannot fail
		clear(secret)
	}
	brk, err := newBreaker(cfg.breaker)
	if err != nil {
		return nil, err
	}
	var obs observe.Observer // nil: none
	if cfg.observer != nil {
		obs = &recoveringObserver{o: cfg.observer, log: cfg.log}
	}
	c := &Client{
		store: st, tenant: cfg.tenant, clock: cfg.clock, random: cfg.random, log: cfg.log,
		ids: ids, notifier: cfg.notifier, obs: obs, breaker: brk, auditKey: auditKey,
		pendingTTL: cfg.pendingTTL, grantTTL: cfg.grantTTL, latency: cfg.latency,
		approvalsChanged: make(chan struct{}),
		approvalTurns:    newApprovalTurns(),
		shadow:           newShadowPolicy(cfg.shadow),
	}
	if len(cfg.redact) > 0 {
		c.redact.exact = map[string]bool{}
		for _, n := range cfg.redact {
			c.redact.exact[n] = true
		}
	}
	c.pool.New = func() any { return new(checkState) }
	c.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	c.hashers.New = func() any { return new(mac.Hasher) }
	c.tokenTTL, c.issuer = cfg.tokenTTL, cfg.issuer
	c.audiences = cfg.audiences
	if len(c.audiences) == 0 {
		c.audiences = []string{cfg.issuer}
	}
	// Bounded caches (see boundedCache): a token's expiry is checked
	// against the clock on every use, cached or not.
	c.tokenCacheOff = cfg.tokenCacheEntries == 0
	c.tokens = cache.New[string, any](max(cfg.tokenCacheEntries, 1), max(cfg.tokenCacheBytes, 1))
	c.keys = newBoundedCache(keyCacheEntries, keyCacheBytes, keyEntryCost)
	c.rootKeys = newBoundedCache(keyCacheEntries, keyCacheBytes/4, rolesCost)
	if c.keyring, err = newKeyring(cfg.masterKeys, c.newID, func() ([]byte, error) {
		s := make([]byte, 32)
		_, err := io.ReadFull(c.random, s)
		return s, err
	}); err != nil {
		return nil, err
	}
	if c.signing, err = newSigningKeys(cfg.signingKeys, c.random, c.newID); err != nil {
		return nil, err
	}

	ctx := context.Background()
	switch {
	case cfg.engine != nil:
		c.policy.Store(&policyState{engine: cfg.engine})
		c.ownEngine = true
	case cfg.policy != nil:
		ps, err := c.newPolicyState(cfg.policy)
		if err != nil {
			return nil, err
		}
		c.policy.Store(ps)
	default:
		if err := c.loadStoredPolicy(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.notify != nil {
		if c.view, err = newView(*cfg.notify); err != nil {
			return nil, err
		}
		if err := c.startView(ctx); err != nil {
			return nil, err
		}
	}
	bgCtx, cancel := context.WithCancel(context.Background())
	c.bg, c.bgDone = cancel, make(chan struct{})
	go c.followPolicy(bgCtx)
	c.audit = newAuditor(auditConfig{
		chain: cfg.chain, tenant: cfg.tenant, key: auditKey, sinks: cfg.sinks, max: cfg.queueSize,
		stuckAfter: cfg.stuckAfter, writeTimeout: cfg.writeTimeout, drainTimeout: cfg.drainTimeout,
		durable: cfg.durable, obs: obs,
	}, &c.redact, cfg.clock, cfg.log)
	if err := c.audit.resume(ctx); err != nil {
		return nil, err
	}
	c.audit.start()
	return c, nil
}

// Close stops accepting checks and writes every queued audit record. When
// a sink still fails after the drain time (AuditConfig.DrainTimeout) it
// returns an *AuditLossError naming each decision whose record was not
// written. It does not close the store.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return c.audit.close()
	}
	c.bg()
	<-c.bgDone
	c.stopView()
	return c.audit.close()
}

// VerifyChain checks records with this client's audit key; see the
// package-level VerifyChain.
func (c *Client) VerifyChain(records []AuditRecord) error { return VerifyChain(records, c.auditKey) }

// SyncAudit waits until every audit record queued before the call has
// been written to every sink, or ctx ends.
func (c *Client) SyncAudit(ctx context.Context) error { return c.audit.sync(ctx) }

// Stats is a snapshot of the client's health. A plain value; the zero
// Stats is an idle, unhealthy client's.
type Stats struct {
	AuditQueued  int64  // records waiting to be written
	AuditWritten uint64 // records written since New
	AuditHealthy bool   // false while checks deny for want of audit
	// RateState: a node-scope rate limit holds state (a bucket an agent
	// has drawn on and that has not refilled), or the runaway breaker
	// does (an agent's calls or denials counted within their window), or
	// the cap on open approvals does (an approval this client opened,
	// not lapsed), which closing the client would lose: a new client
	// starts every bucket full and every count at zero.
	RateState bool
}

// Stats returns the client's current figures.
//
// A clock that fails (see WithClock) leaves RateState true: what cannot
// be told to be lost is kept.
func (c *Client) Stats() Stats {
	now, err := c.now()
	return Stats{
		AuditQueued:  c.audit.depth(),
		AuditWritten: c.audit.written.Load(),
		AuditHealthy: c.audit.healthy(),
		RateState: err != nil || c.nodes.holdsState(now) ||
			c.breaker != nil && c.breaker.holdsState(now) ||
			c.open.holdsState(now),
	}
}

// setPolicy validates p, compiles it with the built-in rule engine and
// makes it live for every check that starts after setPolicy returns. Rate
// limit state carries over: node buckets are the client's (nodeBuckets),
// cluster state the store's. On error the previous policy stays.
func (c *Client) setPolicy(p *Policy) error {
	cp, err := compilePolicy(p, "")
	if err != nil {
		return err
	}
	ps, err := c.newPolicyState(cp)
	if err != nil {
		return err
	}
	c.policy.Store(ps)
	return nil
}

// SavePolicy validates a policy document, stores it as the tenant's policy
// if the stored version is still expectVersion (0 when there is none), and
// makes it live. It returns the new version. On any error nothing changes.
// It is recorded in the audit chain as "agenttrust.save_policy" (see
// Suspend), with the SHA-256 of body, its format and expectVersion as
// attributes. A client made WithPolicyEngine refuses with ErrConflict:
// the document would replace its engine on this client alone.
func (c *Client) SavePolicy(ctx context.Context, body []byte, format string, expectVersion int64) (int64, error) {
	if c.ownEngine {
		return 0, fmt.Errorf("%w: checks here are decided by a policy engine of their own (WithPolicyEngine, or serve --policy FILE.cedar), and no policy is stored", ErrConflict)
	}
	p, err := ParsePolicy(body, format)
	if err != nil {
		return 0, err
	}
	cp, err := compilePolicy(p, "")
	if err != nil {
		return 0, err
	}
	ps, err := c.newPolicyState(cp)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(body)
	op := operation{tool: opSavePolicy, resource: "policy", reason: "policy saved", kvs: []attrKV{
		{Name: "expect_version", Value: expectVersion}, {Name: "format", Value: format}, {Name: "sha256", Value: hex.EncodeToString(sum[:])},
	}}
	c.policyMu.Lock()
	installs, live := c.policyInstalls, c.policyVersion.Load()
	c.policyMu.Unlock()
	var doc store.PolicyDoc
	err = c.audited(ctx, op, func() error {
		want := store.PolicyDoc{Tenant: c.tenant, Format: format, Body: body, UpdatedAt: c.clock.Now()}
		var err error
		doc, err = c.store.PutPolicy(ctx, want, expectVersion)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, store.ErrConflict):
			return fmt.Errorf("%w: policy version %d is no longer current: %w", ErrConflict, expectVersion, err)
		}
		// No answer is not a refusal: the store may have committed the
		// document before its reply was lost, and then every client's
		// policy follower makes it live. Reported and noted as not
		// performed, a policy would be in force that the caller and the
		// trail were told was not.
		if saved, ok := c.policySaved(ctx, &want, expectVersion); ok {
			doc = saved
			return nil
		}
		return storeErr("save policy", err)
	})
	if err != nil {
		return 0, err
	}
	// Stored versions only grow, so a save that got one no later than
	// the live version found the store gone back (restored from an
	// older backup): this document is now its newest, and the live one
	// is of a history it no longer holds. Make it live all the same,
	// unless another install came meanwhile (a later save or reload).
	c.policyMu.Lock()
	defer c.policyMu.Unlock()
	if doc.Version <= live && c.policyInstalls == installs {
		c.policyVersion.Store(doc.Version - 1)
	}
	c.installPolicyLocked(ps, doc.Version)
	return doc.Version, nil
}

// policySaved reads the tenant's policy back after a PutPolicy of want
// over expectVersion that got no answer, and returns it when it is want,
// stored by that call: the version after expectVersion, with want's
// format, body and time. The read outlives ctx (which may be what ended
// the call), for a few seconds.
func (c *Client) policySaved(ctx context.Context, want *store.PolicyDoc, expectVersion int64) (store.PolicyDoc, bool) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decisionReadBack)
	defer cancel()
	var doc store.PolicyDoc
	err := recovered("policy read back", func() (err error) { doc, err = c.store.Policy(rctx, c.tenant); return err })
	if err != nil || doc.Version != expectVersion+1 || doc.Format != want.Format ||
		!bytes.Equal(doc.Body, want.Body) || !doc.UpdatedAt.Equal(want.UpdatedAt) {
		return store.PolicyDoc{}, false
	}
	return doc, true
}

// installPolicy makes ps, compiled from stored version version, live
// unless a later stored version already is. Saves and reloads finish in
// any order (a slow answer, a reader that read before a save): the one
// that finishes last must not put back an older policy than the one
// saved, whose caller was told it was live.
func (c *Client) installPolicy(ps *policyState, version int64) {
	c.policyMu.Lock()
	defer c.policyMu.Unlock()
	c.installPolicyLocked(ps, version)
}

// installPolicyLocked is installPolicy with c.policyMu held.
func (c *Client) installPolicyLocked(ps *policyState, version int64) {
	if version <= c.policyVersion.Load() {
		return
	}
	c.policy.Store(ps)
	c.policyVersion.Store(version)
	c.policyInstalls++
}

// loadStoredPolicy makes the tenant's stored policy live (deny
// everything when there is none, and deny every check with an error
// naming it when it no longer parses or compiles) and follows its
// changes from then on.
func (c *Client) loadStoredPolicy(ctx context.Context) error {
	doc, err := c.store.Policy(ctx, c.tenant)
	if isNotFound(err) {
		c.policyVersion.Store(-1) // follow the store; nothing stored yet
		return c.setPolicy(&Policy{})
	}
	if err != nil {
		return storeErr("load policy", err)
	}
	p, err := ParsePolicy(doc.Body, doc.Format)
	var cp *compiled
	if err == nil {
		cp, err = compilePolicy(p, "")
	}
	if err != nil {
		if !errors.Is(err, ErrInvalidPolicy) {
			return fmt.Errorf("stored policy version %d: %w", doc.Version, err)
		}
		// A document this version refuses (one an older version stored,
		// before its parser grew stricter): every check denies, naming
		// it, and the tenant stays open, so that a corrected policy can
		// be saved over it (SavePolicy, and so PUT /v1/policy, needs this
		// client). Refusing the tenant would leave no way to do so.
		err = fmt.Errorf("stored policy version %d is refused, and every check denied, until you save a corrected policy over it (agenttrust policy apply FILE, or PUT /v1/policy with expect_version %d): %w", doc.Version, doc.Version, err)
		c.log.Error("agenttrust: "+err.Error(), "tenant", c.tenant)
		c.policy.Store(&policyState{engine: refusedPolicy{err: err}})
		c.policyVersion.Store(doc.Version)
		return nil
	}
	ps, err := c.newPolicyState(cp)
	if err != nil {
		return err
	}
	c.policy.Store(ps)
	c.policyVersion.Store(doc.Version)
	return nil
}

// refusedPolicy is the engine of a client whose stored policy does not
// parse or compile: it denies every check with err.
type refusedPolicy struct{ err error }

func (r refusedPolicy) Evaluate(context.Context, *PolicyInput) (PolicyResult, error) {
	return PolicyResult{Effect: Deny}, r.err
}

// reloadStoredPolicy picks up a newer stored policy, if the client
// follows the store. A bad stored document leaves the live policy alone.
func (c *Client) reloadStoredPolicy(ctx context.Context) error {
	have := c.policyVersion.Load()
	if have == 0 {
		return nil // policy given in code
	}
	doc, err := c.store.Policy(ctx, c.tenant)
	if isNotFound(err) || (err == nil && doc.Version <= have) {
		return nil
	}
	if err != nil {
		return storeErr("load policy", err)
	}
	p, err := ParsePolicy(doc.Body, doc.Format)
	if err != nil {
		return fmt.Errorf("stored policy version %d: %w", doc.Version, err)
	}
	cp, err := compilePolicy(p, "")
	if err != nil {
		return err
	}
	ps, err := c.newPolicyState(cp)
	if err != nil {
		return err
	}
	c.installPolicy(ps, doc.Version)
	return nil
}

// policyPoll is how often a client following a stored policy looks for a
// new version when no change feed tells it; policyBackoffMax bounds the
// wait between attempts while the store is down.
const (
	policyPoll       = time.Second
	policyBackoffMax = 30 * time.Second
)

// followPolicy keeps a store-backed policy current in strict mode (notify
// mode hears of changes through the feed, and polls as well while it is
// down). While the store is down it backs off (see backoff) and logs the
// first failure only; it logs again once a refresh succeeds, saying how
// many attempts failed and for how long.
func (c *Client) followPolicy(ctx context.Context) {
	defer close(c.bgDone)
	if c.policyVersion.Load() == 0 {
		return
	}
	retry := backoff{base: policyPoll, max: policyBackoffMax, random: c.random}
	failures := 0
	var since time.Time // the first failure of the current run
	t := time.NewTimer(policyPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.view != nil && !c.view.polling.Load() {
			t.Reset(policyPoll)
			continue // the feed delivers policy changes
		}
		qctx, cancel := context.WithTimeout(ctx, policyPoll)
		err := recovered("policy refresh", func() error { return c.reloadStoredPolicy(qctx) })
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return // closing: not a failure of the store
		case err != nil:
			failures++
			if failures == 1 {
				since = time.Now()
				c.log.Warn("agenttrust: policy refresh failed; retrying with backoff, logging again once it recovers", "err", err)
			} else {
				c.log.Debug("agenttrust: policy refresh failed again", "failures", failures, "err", err)
			}
			t.Reset(retry.wait(failures))
		default:
			if failures > 0 {
				c.log.Info("agenttrust: policy refresh recovered", "failures", failures, "after", time.Since(since))
				failures = 0
			}
			t.Reset(policyPoll)
		}
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// validID checks an identifier supplied by a caller: 1-256 bytes of valid
// UTF-8 without control characters.
func validID(field, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is required", ErrInvalidRequest, field)
	}
	return validText(field, s, 256)
}

func validText(field, s string, maxLen int) error {
	_, err := normText(field, s, maxLen)
	return err
}

// validName checks a name: an agent id, tool name, session id or
// on-behalf-of principal. A name has one canonical form (cond.ValidName:
// ASCII letters, digits and . _ : / @ + -), so what a rule spells is what
// a request must send: no invisible, look-alike, fullwidth or combining
// characters that would dodge an exact deny rule or open a rate-limit
// bucket of their own.
func validName(field, s string) error {
	if cond.ValidName(s) {
		return nil
	}
	switch {
	case s == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalidRequest, field)
	case len(s) > cond.MaxNameLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidRequest, field, cond.MaxNameLen)
	}
	for i, r := range s {
		if r >= utf8.RuneSelf || r < 0x20 || r == 0x7f || !cond.ValidName(s[i:i+1]) {
			return fmt.Errorf("%w: %s holds %U, which a name may not (ASCII letters, digits and . _ : / @ + - only)", ErrInvalidRequest, field, r)
		}
	}
	return fmt.Errorf("%w: %s is not a valid name", ErrInvalidRequest, field)
}

// generatedPrefixes begin the ids agenttrust makes for credentials, hops
// and grants. Revocations share one namespace with agents and sessions,
// and Revoke acts on such an id by its kind (the revocation of a key that
// expires is pruned once the key is long dead; a grant's ends the grant),
// so an agent or a session may not take a name of that form: revoking it
// would act on the kind instead.
var generatedPrefixes = [...]string{"key_", "tok_", "hop_", "grt_"}

// validActorName is validName for an agent id or a session id.
func validActorName(field, s string) error {
	if err := validName(field, s); err != nil {
		return err
	}
	if len(s) > 4 && s[3] == '_' {
		for _, p := range generatedPrefixes {
			if strings.HasPrefix(s, p) {
				return fmt.Errorf("%w: %s %q begins with %q, which generated ids take", ErrInvalidRequest, field, s, p)
			}
		}
	}
	return nil
}

// normText checks caller-supplied text (at most maxLen bytes of valid
// UTF-8 without control characters) and returns it in Unicode NFC, the
// form policies and caveats compare against. ASCII text, the common case,
// is scanned once and returned as is.
func normText(field, s string, maxLen int) (string, error) {
	if len(s) > maxLen {
		return s, fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidRequest, field, maxLen)
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f {
			return s, fmt.Errorf("%w: control character in %s", ErrInvalidRequest, field)
		} else if b >= utf8.RuneSelf {
			ascii = false
		}
	}
	if ascii {
		return s, nil
	}
	if !utf8.ValidString(s) {
		return s, fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidRequest, field)
	}
	// NFC can lengthen text (up to three times): the bound holds for the
	// form rules see and records keep, so a record never cuts it.
	n := cond.NFC(s)
	if len(n) > maxLen {
		return s, fmt.Errorf("%w: %s longer than %d bytes in Unicode NFC", ErrInvalidRequest, field, maxLen)
	}
	return n, nil
}

// isNil reports whether v is nil or a nil pointer, func, map, slice or
// channel behind a non-nil interface: a value New is given that would
// panic at its first use, in a goroutine of the client's or mid-check.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}
