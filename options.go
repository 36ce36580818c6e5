package agenttrust

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/agenttrust/agenttrust/observe"
)

type config struct {
	tenant       string
	chain        string
	clock        clock
	random       io.Reader
	log          *slog.Logger
	policy       *compiled // WithPolicy's
	policyErr    error     // why WithPolicy's policy did not compile
	nilEngine    bool      // WithPolicyEngine(nil)
	engine       PolicyEngine
	sinks        []AuditSink
	auditKey     *AuditKey
	queueSize    int
	stuckAfter   time.Duration
	writeTimeout time.Duration
	drainTimeout time.Duration
	durable      bool
	redact       []string
	notifier     notifier
	breaker      BreakerConfig
	pendingTTL   time.Duration
	grantTTL     time.Duration
	latency      bool
	notify       *NotifyConfig
	masterKeys   []SecretKey
	signingKeys  []SecretKey
	tokenTTL     time.Duration
	issuer       string
	audiences    []string
	observer     observe.Observer
	shadow       PolicyEngine

	tokenCacheEntries int
	tokenCacheBytes   int64
}

// Option configures New. A nil Option panics when New applies it, as a nil
// function does.
type Option func(*config)

// WithTenant sets the tenant this client decides for (DefaultTenant).
func WithTenant(tenant string) Option { return func(c *config) { c.tenant = tenant } }

// WithClock sets where the client reads the time it stamps on what it
// decides and records: decision and audit times, credential and approval
// expiry, revocation dates. The default is the system clock. now must be
// safe for concurrent use.
//
// A now that panics, or tells a time no record can hold (the zero time),
// fails whatever read it with an error matching ErrInvalidConfig: a check
// denies, and a mint, delegation, authentication, key or approval wait
// fails with nothing done.
//
// Waiting is not the clock's job: polls, bounds and timeouts (an approval
// wait, a stuck audit sink, a stale revocation view) run on the time
// package's timers. Tests that exercise them run inside a
// testing/synctest bubble, whose fake time drives both the default clock
// and every timer, so no test sleeps on the real clock.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		c.clock = nil // refused by New
		if now != nil {
			c.clock = clockFunc(now)
		}
	}
}

// WithRandom injects the source of randomness (crypto/rand by default):
// ids, API key secrets, and the master and signing keys a client makes
// when it is given none. It must be safe for concurrent use. A source
// that breaks without an error, returning one byte repeated over 10
// bytes or more (all zeros, say) or no bytes at all, fails New or the
// call that draws on it (an error matching the cause), never making a
// guessable key or id.
func WithRandom(r io.Reader) Option { return func(c *config) { c.random = r } }

// WithLogger sets where the client logs operational trouble (a failing
// audit sink, a notifier error). The default discards. A handler that
// panics loses the line it was given, never the call or the process.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithPolicy uses the built-in rule engine with p. Without it (and without
// WithPolicyEngine) the client loads the tenant's policy from the store, or
// denies everything when there is none. p is compiled when WithPolicy is
// called, so changing it afterwards changes nothing the Option makes; a
// policy that does not validate, or a nil one, makes New fail.
func WithPolicy(p *Policy) Option {
	// Compiled now, not when the Option is applied, which may be long
	// after (a server builds each tenant's Client on its first request):
	// the caller, told a Policy may be shared once given, may change it.
	// A nil p (a policy that failed to load) is refused rather than read
	// as no option, which would enforce the store's policy instead.
	cp, err := (*compiled)(nil), fmt.Errorf("%w: WithPolicy of a nil policy", ErrInvalidConfig)
	if p != nil {
		cp, err = compilePolicy(p, "")
	}
	return func(c *config) { c.policy, c.policyErr = cp, err }
}

// WithPolicyEngine uses a custom PolicyEngine instead of the rule engine.
// A nil e makes New fail: it would otherwise enforce the store's policy.
func WithPolicyEngine(e PolicyEngine) Option {
	return func(c *config) { c.engine, c.nilEngine = e, e == nil }
}

// WithNotifier has notify told of every new pending approval, for
// example to page a human or post to a chat. It runs in its own
// goroutine, detached from the check's cancellation, with a 30-second
// timeout; its error or panic is logged, never fatal to the check.
func WithNotifier(notify func(ctx context.Context, a Approval) error) Option {
	return func(c *config) {
		c.notifier = nil
		if notify != nil {
			c.notifier = notifierFunc(notify)
		}
	}
}

// notifier is what WithNotifier sets: a function, as a method.
type notifier interface {
	Notify(ctx context.Context, a Approval) error
}

type notifierFunc func(ctx context.Context, a Approval) error

func (f notifierFunc) Notify(ctx context.Context, a Approval) error { return f(ctx, a) }

// WithObserver tells o of every check and of the events an operator
// counts: approvals opened and decided, revocations and suspensions, rate
// limits and breaker trips, tokens issued, audit records written (see
// package observe). Without one a check pays a nil check for it; the
// OpenTelemetry module (github.com/agenttrust/agenttrust/otel) provides
// one with spans and metrics.
func WithObserver(o observe.Observer) Option { return func(c *config) { c.observer = o } }

// WithBreaker enables the runaway breaker. It is off by default.
func WithBreaker(cfg BreakerConfig) Option { return func(c *config) { c.breaker = cfg } }

// WithApprovalTTL sets how long a pending approval waits for a decision
// (default 15 minutes) and how long a granted one may be used (default 5
// minutes).
func WithApprovalTTL(pending, grant time.Duration) Option {
	return func(c *config) { c.pendingTTL, c.grantTTL = pending, grant }
}

// AuditConfig configures the audit trail (WithAudit). A zero field keeps
// its default, or what an earlier WithAudit set; Sinks and Redact
// accumulate. It is a plain value, safe to share; the zero AuditConfig
// changes nothing.
type AuditConfig struct {
	// Sinks receive every record. Without any, the client keeps the last
	// 10,000 records in an in-memory ring.
	Sinks []AuditSink
	// Chain names this client's audit chain (default "default"). Every
	// writer sharing a store needs its own chain; a client reopened with
	// the same name continues its chain.
	Chain string
	// Key keys the chain (see AuditKey): records are MACed under it, and
	// VerifyChain needs it. Every process that writes or verifies a stored
	// chain must have the same key, as it has the same master keys: a
	// client writing to a server's store (remote.NewStore) needs the
	// server's audit key, or the server reports its chain broken. Without
	// one a client makes a random key of its own: its chain then verifies
	// only in this process (Client.VerifyChain), which suits the in-memory
	// audit; a chain continued from a store after a restart no longer
	// verifies, and verification says so rather than pass.
	Key AuditKey
	// Durable makes a check return only once its record has been written
	// to every sink (committed, for a store): an answer the caller acts on
	// is never lost to a crash. Concurrent checks share one write (group
	// commit). A check whose record cannot be written within StuckAfter
	// denies with ErrAuditUnavailable, and a later record notes that its
	// decision was withdrawn. The agenttrust server's default.
	//
	// Without it (the library's default) a check returns as soon as its
	// record is queued and a flusher writes queued records in batches: no
	// I/O per check, but a crash of the process (kill -9, power loss)
	// loses the records still queued: at most Queue, in practice those of
	// the last few milliseconds, or more while a sink is failing. A clean
	// Close writes them all or returns an *AuditLossError naming each one
	// it could not write.
	Durable bool
	// Latency records in each record how long the decision took. It costs
	// a second clock read per check (about 45 ns here).
	Latency bool
	// Queue bounds how many records may wait to be written (default
	// 65536). When it is full, checks wait for room, then deny. A queued
	// record holds no more of its request's attributes than the record
	// keeps (16 KiB; larger ones are encoded and cut when queued), and
	// the queue no more than 1 KiB of attributes per record it may hold
	// (64 MiB by default): past that it is full too.
	Queue int
	// StuckAfter is how long a write may fail or hang before checks deny
	// with ErrAuditUnavailable (default 5s).
	StuckAfter time.Duration
	// WriteTimeout bounds one write to a sink (default 5s).
	WriteTimeout time.Duration
	// Redact names attributes whose values never reach the audit trail
	// or an approval, in addition to names containing (in any case)
	// password, passwd, secret, token, credential, authorization,
	// api_key, api-key, apikey, private_key, private-key, access_key,
	// access-key or cookie, at any depth of a nested value. Names
	// accumulate.
	Redact []string
	// DrainTimeout bounds how long Close keeps writing queued records to a
	// failing sink (default 15s); what is still unwritten then is named in
	// the *AuditLossError Close returns.
	DrainTimeout time.Duration
	// Shadow is a candidate policy engine (NewRuleEngine of a proposed
	// Policy) evaluated beside the live policy on every check the policy
	// decides, and never enforced: when it decides otherwise (another
	// effect or rule), the check's record says what it decided in
	// ShadowEffect and ShadowRule, under the chain's MAC, and an
	// observe.ShadowDisagreed event is sent. Its failure or panic is
	// recorded as ShadowEffect "error" and changes nothing else. Each
	// check the policy decides pays for its evaluation. The last
	// WithAudit giving one wins.
	Shadow PolicyEngine
}

// WithAudit configures the audit trail (see AuditConfig). It copies the
// lists of a before it returns.
func WithAudit(a AuditConfig) Option {
	// Copied now, not when the Option is applied, which may be long after
	// (a server builds each tenant's Client on its first request): a
	// caller reusing its Redact slice meanwhile would unredact a secret.
	sinks, redact := slices.Clone(a.Sinks), slices.Clone(a.Redact)
	return func(c *config) {
		c.sinks = append(c.sinks, sinks...)
		c.redact = append(c.redact, redact...)
		if a.Chain != "" {
			c.chain = a.Chain
		}
		if a.Key.root != nil {
			c.auditKey = &a.Key
		}
		c.durable = c.durable || a.Durable
		c.latency = c.latency || a.Latency
		if a.Queue != 0 {
			c.queueSize = a.Queue
		}
		if a.StuckAfter != 0 {
			c.stuckAfter = a.StuckAfter
		}
		if a.WriteTimeout != 0 {
			c.writeTimeout = a.WriteTimeout
		}
		if a.DrainTimeout != 0 {
			c.drainTimeout = a.DrainTimeout
		}
		if a.Shadow != nil {
			c.shadow = a.Shadow
		}
	}
}

// SecretKey is a named secret: a master key that macaroon tokens derive
// from or the seed of a key that signs JWTs (see TokenConfig). Its ID
// travels in each token the key makes, so keys can rotate. SecretKey
// redacts its secret when printed, logged or marshalled. A plain value,
// safe to share once made; WithTokens copies the secret. The zero
// SecretKey is refused by New.
type SecretKey struct {
	ID     string // 1-64 letters, digits, '_' or '-'
	Secret []byte
}

func (k SecretKey) String() string { return "SecretKey{" + k.ID + ", [redacted]}" }

// Format implements fmt.Formatter so that no verb prints the secret:
// every verb, %#v and %d among them, prints String. (Without it, the
// verbs a string does not take print the fields, the secret byte by
// byte.)
func (k SecretKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// MarshalText implements encoding.TextMarshaler with String, so that
// encoders that look for it (encoding/xml, YAML, slog's text handler)
// write no secret.
func (k SecretKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalJSON encodes only the id.
func (k SecretKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID string `json:"id"`
	}{k.ID})
}

// TokenConfig configures the tokens a client mints and verifies
// (WithTokens). A zero field keeps its default, or what an earlier
// WithTokens set; keys and audiences accumulate. It is a plain value, safe
// to share; the zero TokenConfig changes nothing.
type TokenConfig struct {
	// MasterKeys derive the root key of every macaroon token,
	// HMAC-SHA256(secret, token id), so minting stores nothing per
	// token. Each secret is at least 32 bytes, not all zero. The first mints, all
	// verify, and a key removed from the list is retired along with
	// every token it minted. Without any, a client makes a random master
	// key of its own: its tokens die with it and other clients cannot
	// verify them.
	MasterKeys []SecretKey
	// SigningKeys sign the JWT form of tokens with Ed25519: each secret
	// is an Ed25519 seed (ed25519.SeedSize bytes, not all zero;
	// ed25519.PrivateKey.Seed returns it) and each ID the "kid". The first signs; all verify and
	// are listed by PublicKeys. Without any, a client makes a random key
	// of its own.
	SigningKeys []SecretKey
	// TTL is the default and longest lifetime of tokens Exchange mints
	// (5 minutes; at most 24 hours). A token never outlives its key.
	TTL time.Duration
	// Issuer is the "iss" of JWTs this client mints and requires of JWTs
	// it verifies (default "agenttrust").
	Issuer string
	// Audiences are accepted in a JWT's "aud" (default: the issuer). A
	// resource server names its own URI (RFC 8707).
	Audiences []string
	// CacheEntries and CacheBytes bound the cache of verified tokens and
	// JWTs (defaults 16384 entries and 16 MiB). A token not cached is
	// verified again, which costs time, never safety: caveats, expiry
	// and revocation are checked on every use.
	CacheEntries int
	CacheBytes   int64
	// NoCache turns the cache off: every use verifies the token from
	// scratch.
	NoCache bool
}

// WithTokens configures tokens and their keys (see TokenConfig). It
// copies the secrets before it returns: the caller may clear its own.
func WithTokens(t TokenConfig) Option {
	// Copied now, not when the Option is applied, which may be long after
	// (a server builds each tenant's Client on its first request): a
	// secret cleared meanwhile would be read as all zero bytes, a key
	// anyone can mint and sign with.
	master, signing := cloneSecretKeys(t.MasterKeys), cloneSecretKeys(t.SigningKeys)
	audiences := slices.Clone(t.Audiences)
	return func(c *config) {
		c.masterKeys = append(c.masterKeys, master...)
		c.signingKeys = append(c.signingKeys, signing...)
		c.audiences = append(c.audiences, audiences...)
		if t.TTL != 0 {
			c.tokenTTL = t.TTL
		}
		if t.Issuer != "" {
			c.issuer = t.Issuer
		}
		if t.CacheEntries != 0 {
			c.tokenCacheEntries = t.CacheEntries
		}
		if t.CacheBytes != 0 {
			c.tokenCacheBytes = t.CacheBytes
		}
		if t.NoCache {
			c.tokenCacheEntries, c.tokenCacheBytes = 0, 0
		}
	}
}

// cloneSecretKeys copies keys and their secrets.
func cloneSecretKeys(keys []SecretKey) []SecretKey {
	out := make([]SecretKey, len(keys))
	for i, k := range keys {
		out[i] = SecretKey{ID: k.ID, Secret: slices.Clone(k.Secret)}
	}
	return out
}

// WithNotify switches revocation checking from strict mode (the default:
// every check asks the store) to notify mode: the client keeps its
// tenant's revocations and suspensions in memory, fed by the store's
// change feed (store.Watcher: PostgreSQL LISTEN/NOTIFY, MySQL's polled
// change log) and, when the feed is down, by polling. The view is proven
// fresh by markers sent through the feed; a check whose view cannot be
// proven younger than MaxStaleness denies. So a revocation committed
// anywhere is honoured by every node within MaxStaleness, or the node
// stops allowing. Every Decision says how old its view was
// (Decision.Staleness).
func WithNotify(cfg NotifyConfig) Option { return func(c *config) { c.notify = &cfg } }
