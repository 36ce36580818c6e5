package remote

import (
	"context"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/storeapi"
	"github.com/agenttrust/agenttrust/store"
)

// storeAPIPath is where the server mounts the store API.
const storeAPIPath = "/v1/store"

// NewStore returns a store.Store kept on the server at baseURL, through
// its store API (/v1/store/, which the server serves only to admins of
// its system tenant, and only when configured to). Give it to
// agenttrust.New so that a process makes its decisions locally while its
// revocations, approvals, keys and audit trail live on the server:
//
//	st, err := remote.NewStore("https://agenttrust.internal", systemAdminKey)
//	c, err := agenttrust.New(st, agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}}))
//
// Errors follow the store contract: store.ErrNotFound, ErrConflict and
// ErrInvalid as answered; store.ErrUnavailable whenever the server does
// not answer properly (a transport failure, a timeout, 5xx, a 401 or 403
// from its authentication, a garbled answer); the context's error when
// ctx ends. The store is not a store.Watcher, so it serves clients in
// strict mode (the default), not in notify mode. WithRetries applies to
// the idempotent methods (reads, Revoke, Suspend). The store is a
// store.ClusterLimiter, so a policy's cluster-wide limits are shared with
// every node of the server's store; when that store holds no such limits,
// each take fails with store.ErrUnavailable and the check denies. It is
// a store.Budgeter too: a budgeted check spends in the server's store, in
// its transaction, and denies likewise when that store holds no budgets.
// Close marks the store closed; it changes nothing on the server.
func NewStore(baseURL, apiKey string, opts ...Option) (store.Store, error) {
	return newStoreAPI(baseURL, apiKey, opts)
}

func newStoreAPI(baseURL, apiKey string, opts []Option) (*storeapi.Client, error) {
	c, err := New(baseURL, apiKey, opts...)
	if err != nil {
		return nil, err
	}
	auth := "Bearer " + apiKey
	sopts := []storeapi.ClientOption{storeapi.WithBackoff(c.backoff), storeapi.WithAttemptTimeout(c.cfg.timeout)}
	if c.cfg.userAgent != "" {
		sopts = append(sopts, storeapi.WithHeader("User-Agent", c.cfg.userAgent))
	}
	hc := c.cfg.hc
	if c.cfg.ownHC {
		hc = nil // the store client makes one of its own, which its Close releases
	}
	return storeapi.NewClient(c.base+storeAPIPath, hc, func() string { return auth }, sopts...), nil
}

// AuditSink is an agenttrust.AuditSink that writes batches to the server's
// store API (append_audit), and reads chain heads (AuditHead), so a
// process keeps its audit chain on the server and continues it after a
// restart. It recognises a batch the server already holds (a retry after a
// lost answer) as audit.StoreSink does. Safe for concurrent use.
type AuditSink struct {
	st   *storeapi.Client
	sink *audit.StoreSink
}

var (
	_ agenttrust.AuditSink = (*AuditSink)(nil)
	_ interface {
		AuditHead(context.Context, string) (agenttrust.AuditRecord, error)
	} = (*AuditSink)(nil)
)

// NewAuditSink returns a sink writing to the store API of the server at
// baseURL, authenticated as an admin of the system tenant (see NewStore).
func NewAuditSink(baseURL, apiKey string, opts ...Option) (*AuditSink, error) {
	st, err := newStoreAPI(baseURL, apiKey, opts)
	if err != nil {
		return nil, err
	}
	return &AuditSink{st: st, sink: audit.NewStoreSink(st)}, nil
}

// Write implements agenttrust.AuditSink.
func (s *AuditSink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	return s.sink.Write(ctx, recs)
}

// Close releases the sink's idle connections; later writes fail.
func (s *AuditSink) Close() error { return s.st.Close() }

// AuditHead returns the newest record of chain, so a client continues
// its chain (see agenttrust.AuditSink).
func (s *AuditSink) AuditHead(ctx context.Context, chain string) (agenttrust.AuditRecord, error) {
	return s.sink.AuditHead(ctx, chain)
}

// PolicyEngine is an agenttrust.PolicyEngine that asks the server: each
// Evaluate posts the agenttrust.PolicyInput to the store API's evaluate
// route, which the server answers with the policy of the input's tenant.
// Use it with agenttrust.WithPolicyEngine to keep one policy on the server
// for every process. An error (the server down, slow or garbled) makes the
// check deny with agenttrust.ErrPolicyEngine. So does a stored policy
// holding rate limits, which a client with WithPolicyEngine would not
// apply: decide with such a policy through remote.NewStore, without
// WithPolicyEngine. Safe for concurrent use.
type PolicyEngine struct {
	st *storeapi.Client
}

var _ agenttrust.PolicyEngine = (*PolicyEngine)(nil)

// NewPolicyEngine returns an engine asking the server at baseURL,
// authenticated as an admin of the system tenant (see NewStore).
// Evaluate is idempotent, so WithRetries applies to it; WithTimeout bounds
// each attempt, and so the latency it can add to a check.
func NewPolicyEngine(baseURL, apiKey string, opts ...Option) (*PolicyEngine, error) {
	st, err := newStoreAPI(baseURL, apiKey, opts)
	if err != nil {
		return nil, err
	}
	return &PolicyEngine{st: st}, nil
}

// Close releases the engine's idle connections; later evaluations fail
// (and the checks deny).
func (e *PolicyEngine) Close() error { return e.st.Close() }

// Evaluate implements agenttrust.PolicyEngine. Attribute numbers reach the
// server's engine as json.Number, which the condition grammar compares
// exactly; a value JSON cannot carry (NaN, an infinity) fails Evaluate.
func (e *PolicyEngine) Evaluate(ctx context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
	return e.st.Evaluate(ctx, in)
}
