package storeapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// Client is a store.Store whose state lives behind a store API handler, and
// an agenttrust.PolicyEngine asking its evaluate route. It is not a
// store.Watcher: a client in notify mode cannot use it, strict mode (the
// default) can. Build it with NewClient; it is safe for concurrent use.
//
// Errors: a store sentinel answered by the server is returned as such
// (store.ErrNotFound, ErrConflict, ErrInvalid, ErrCorrupt). Everything
// that keeps the server from answering (transport failures, timeouts of
// the http.Client, 5xx answers, the server's own store being closed,
// answers that are malformed or do not come from the store API, 401 and
// 403 from what guards it) is store.ErrUnavailable, in an *Error carrying
// the status and code. When ctx ends, the error wraps ctx's error. After Close every
// method returns store.ErrClosed.
type Client struct {
	base    string
	hc      *http.Client
	ownHC   bool
	auth    func() string
	headers http.Header
	backoff Backoff
	timeout time.Duration // per attempt; 0: none
	routes  map[string]*route
	closed  atomic.Bool
}

var (
	_ store.Store             = (*Client)(nil)
	_ agenttrust.PolicyEngine = (*Client)(nil)
)

// ClientOption configures NewClient.
type ClientOption func(*Client)

// WithBackoff makes the client repeat idempotent calls (reads, Revoke,
// Suspend, evaluate) that failed in transport or with a 502, 503 or 504;
// calls that change state otherwise are never repeated. The default does
// not retry.
func WithBackoff(b Backoff) ClientOption { return func(c *Client) { c.backoff = b } }

// WithAttemptTimeout bounds each attempt of a call; an attempt that runs
// out of time is a transport failure (store.ErrUnavailable, retried by an
// idempotent call as WithBackoff allows). The caller's context bounds the
// whole call. The default is no bound of the client's own.
func WithAttemptTimeout(d time.Duration) ClientOption {
	return func(c *Client) { c.timeout = max(d, 0) }
}

// WithHeader adds a header to every request, such as User-Agent.
func WithHeader(name, value string) ClientOption {
	return func(c *Client) { c.headers.Add(name, value) }
}

// NewClient returns a store client for the store API mounted at baseURL,
// such as "https://agenttrust.internal/v1/store". hc is the HTTP client to
// use (nil: a new one of its own, with no timeout; contexts bound each
// call), whose redirects are never followed; authHeader, when not nil and returning a non-empty string, gives
// the Authorization header of each request, such as "Bearer atk_...".
func NewClient(baseURL string, hc *http.Client, authHeader func() string, opts ...ClientOption) *Client {
	c := &Client{
		base:    strings.TrimRight(baseURL, "/"),
		hc:      hc,
		auth:    authHeader,
		headers: http.Header{},
		routes:  routeTable(),
	}
	if c.hc == nil {
		var rt http.RoundTripper = http.DefaultTransport
		if t, ok := rt.(*http.Transport); ok {
			t = t.Clone() // idle connections of its own, closed by Close
			t.MaxIdleConnsPerHost = 64
			rt = t
		}
		c.hc, c.ownHC = &http.Client{Transport: rt}, true
	}
	// The store API never redirects: following one would resend the
	// credential somewhere else and turn the POST into a GET.
	cp := *c.hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &cp
	for _, o := range opts {
		o(c)
	}
	return c
}

// Close marks the client closed; every later call returns store.ErrClosed,
// and so does a second Close. It does not touch the server's store.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return &Error{Op: "close", Message: "client closed", err: []error{store.ErrClosed}}
	}
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}

// call runs route name with in and decodes its answer into out, retrying
// an idempotent route as c.backoff allows.
func (c *Client) call(ctx context.Context, name string, in, out any) error {
	rt := c.routes[name]
	if c.closed.Load() {
		return &Error{Op: name, Message: "client closed", err: []error{store.ErrClosed}}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", prefix, name, err)
	}
	body, err := encode(in)
	if err != nil {
		return &Error{Op: name, Message: "cannot encode the request: " + err.Error(), err: []error{store.ErrInvalid}}
	}
	return c.callEncoded(ctx, rt, body, out)
}

// callEncoded is call with the request already encoded.
func (c *Client) callEncoded(ctx context.Context, rt *route, body []byte, out any) error {
	for attempt := 0; ; attempt++ {
		retry, err := c.once(ctx, rt, body, out)
		if err == nil || !retry || !rt.idempotent || attempt >= c.backoff.Retries {
			return err
		}
		if werr := c.backoff.Wait(ctx, attempt); werr != nil {
			return fmt.Errorf("%s %s: %w (after %w)", prefix, rt.name, werr, err)
		}
	}
}

// once makes one attempt; retry says whether a failure may be repeated.
func (c *Client) once(ctx context.Context, rt *route, body []byte, out any) (retry bool, err error) {
	unavailable := func(status int, code, msg string) *Error {
		return &Error{Op: rt.name, Status: status, Code: code, Message: msg, err: []error{store.ErrUnavailable}}
	}
	actx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.base+"/"+rt.name, bytes.NewReader(body))
	if err != nil {
		return false, unavailable(0, "", "bad base URL: "+err.Error())
	}
	for k, vs := range c.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	var sent string
	if c.auth != nil {
		if sent = c.auth(); sent != "" {
			req.Header.Set("Authorization", sent)
		}
	}
	// Whatever stands between this client and the store API (a proxy, an
	// echo service, a misrouted server) may reflect the request: every
	// text taken from an answer or a transport error loses the
	// Authorization header sent, a system tenant's admin credential, and
	// anything shaped like an agenttrust credential before it goes into
	// an error, which callers log.
	red := func(text string) string { return redactSent(text, sent) }
	resp, err := c.hc.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, fmt.Errorf("%s %s: %w", prefix, rt.name, cerr)
		}
		return true, unavailable(0, "", "server unreachable: "+red(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, fmt.Errorf("%s %s: %w", prefix, rt.name, cerr)
		}
		return true, unavailable(resp.StatusCode, "", "reading the answer: "+red(err.Error()))
	}
	if len(data) > MaxBodySize {
		return false, unavailable(resp.StatusCode, "", "answer too large")
	}
	if resp.Header.Get(APIHeader) != APIVersion {
		return retryable(resp.StatusCode), unavailable(resp.StatusCode, "", "not an answer of the store API: "+snippet(data, red))
	}
	if resp.StatusCode == http.StatusOK {
		if err := decodeStrict(data, rt.out, out); err != nil {
			return false, unavailable(resp.StatusCode, "", "malformed answer: "+red(err.Error()))
		}
		return false, nil
	}
	var eb errorBody
	if err := decodeStrict(data, errorSchema, &eb); err != nil || eb.Error.Code == "" {
		return retryable(resp.StatusCode), unavailable(resp.StatusCode, "", "malformed error answer: "+snippet(data, red))
	}
	return retryable(resp.StatusCode), &Error{
		Op: rt.name, Status: resp.StatusCode, Code: red(eb.Error.Code), Message: red(eb.Error.Message),
		err: sentinelsOf(eb.Error.Code),
	}
}

// redactSent returns text without sent (the Authorization header value),
// the credential it carries, or anything shaped like an agenttrust
// credential (internal/redact, as the audit trail redacts attributes).
func redactSent(text, sent string) string {
	if sent != "" {
		text = strings.ReplaceAll(text, sent, redact.Mark)
		if _, cred, ok := strings.Cut(sent, " "); ok && strings.TrimSpace(cred) != "" {
			text = strings.ReplaceAll(text, strings.TrimSpace(cred), redact.Mark)
		}
	}
	return redact.Credentials(text)
}

// errorSchema is the schema of error answers. It is derived from a type of
// this package and never changes.
var errorSchema = schemaOf(reflect.TypeFor[errorBody]())

// snippet returns the start of an unexpected answer for an error message,
// redacted with red before it is cut, so that no credential's start is
// left where the cut falls.
func snippet(b []byte, red func(string) string) string {
	const n = 120
	// A credential starting before the cut ends within its size bound
	// (and "Bearer "), so redacting that much is enough.
	s := red(strings.ToValidUTF8(string(b[:min(len(b), n+agenttrust.MaxCredentialSize+16)]), "\uFFFD"))
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return fmt.Sprintf("%q", strings.TrimSpace(s))
}

// malformed reports an answer that decoded but does not convert to the
// model: the server sent something no store holds.
func malformed(name string, err error) error {
	return &Error{Op: name, Status: http.StatusOK, Message: "malformed answer: " + redact.Credentials(err.Error()), err: []error{store.ErrUnavailable}}
}

// Suspend implements store.Agents.
func (c *Client) Suspend(ctx context.Context, b store.Block) error {
	b.Kind = 0
	return c.call(ctx, "suspend", &blockReq{Block: toWireBlock(b)}, &emptyMsg{})
}

// Resume implements store.Agents.
func (c *Client) Resume(ctx context.Context, tenant, id string) error {
	return c.call(ctx, "resume", &tenantIDReq{Tenant: tenant, ID: id}, &emptyMsg{})
}

// Revoke implements store.Revocations.
func (c *Client) Revoke(ctx context.Context, b store.Block) error {
	b.Kind = 0
	return c.call(ctx, "revoke", &blockReq{Block: toWireBlock(b)}, &emptyMsg{})
}

// Blocked implements store.Revocations.
func (c *Client) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	var out blockedResp
	if err := c.call(ctx, "blocked", &blockedReq{Tenant: tenant, IDs: ids}, &out); err != nil {
		return store.Block{}, false, err
	}
	if out.Blocked != (out.Block != nil) {
		return store.Block{}, false, malformed("blocked", fmt.Errorf("blocked is %v with block %v", out.Blocked, out.Block != nil))
	}
	if !out.Blocked {
		return store.Block{}, false, nil
	}
	b, err := out.Block.model()
	if err != nil {
		return store.Block{}, false, malformed("blocked", err)
	}
	return b, true, nil
}

// Blocks implements store.Revocations.
func (c *Client) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	var out blocksResp
	if err := c.call(ctx, "blocks", &tenantReq{Tenant: tenant}, &out); err != nil {
		return nil, err
	}
	bs := make([]store.Block, len(out.Blocks))
	for i := range out.Blocks {
		b, err := out.Blocks[i].model()
		if err != nil {
			return nil, malformed("blocks", err)
		}
		bs[i] = b
	}
	return bs, nil
}

// PruneRevocations implements store.Revocations.
func (c *Client) PruneRevocations(ctx context.Context, now time.Time) (int, error) {
	var out pruneResp
	if err := c.call(ctx, "prune_revocations", &pruneReq{Now: utc(now)}, &out); err != nil {
		return 0, err
	}
	return out.Removed, nil
}

// CreateApproval implements store.Approvals.
func (c *Client) CreateApproval(ctx context.Context, a store.Approval) error {
	return c.call(ctx, "create_approval", &approvalMsg{Approval: toWireApproval(a)}, &emptyMsg{})
}

// Approval implements store.Approvals.
func (c *Client) Approval(ctx context.Context, tenant, id string) (store.Approval, error) {
	return c.approval(ctx, "approval", &tenantIDReq{Tenant: tenant, ID: id})
}

// Approvals implements store.Approvals.
func (c *Client) Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	var out approvalsResp
	in := &approvalsReq{Filter: wireApprovalFilter{Tenant: f.Tenant, AgentID: f.AgentID, Status: string(f.Status), PendingAt: utc(f.PendingAt), Limit: f.Limit}}
	if err := c.call(ctx, "approvals", in, &out); err != nil {
		return nil, err
	}
	as := make([]store.Approval, len(out.Approvals))
	for i := range out.Approvals {
		a, err := out.Approvals[i].model()
		if err != nil {
			return nil, malformed("approvals", err)
		}
		as[i] = a
	}
	return as, nil
}

// DecideApproval implements store.Approvals.
func (c *Client) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	return c.approval(ctx, "decide_approval", &decideReq{Tenant: tenant, ID: id, Decision: toWireDecision(d)})
}

var _ store.Withdrawer = (*Client)(nil)

// WithdrawApproval implements store.Withdrawer through the served store,
// which must implement it too: otherwise every withdrawal fails with
// store.ErrConflict, and the approval stays as it is.
func (c *Client) WithdrawApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	return c.approval(ctx, "withdraw_approval", &decideReq{Tenant: tenant, ID: id, Decision: toWireDecision(d)})
}

var _ store.Voider = (*Client)(nil)

// VoidApproval implements store.Voider through the served store, which
// must implement it too: otherwise it fails with store.ErrConflict, and
// the approval stays consumed.
func (c *Client) VoidApproval(ctx context.Context, tenant, id, note string) (store.Approval, error) {
	return c.approval(ctx, "void_approval", &voidReq{Tenant: tenant, ID: id, Note: note})
}

// ConsumeApproval implements store.Approvals.
func (c *Client) ConsumeApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	return c.approval(ctx, "consume_approval", &fingerprintReq{Tenant: tenant, Fingerprint: fingerprint, Now: utc(now)})
}

// PendingApproval implements store.Approvals.
func (c *Client) PendingApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	return c.approval(ctx, "pending_approval", &fingerprintReq{Tenant: tenant, Fingerprint: fingerprint, Now: utc(now)})
}

func (c *Client) approval(ctx context.Context, name string, in any) (store.Approval, error) {
	var out approvalMsg
	if err := c.call(ctx, name, in, &out); err != nil {
		return store.Approval{}, err
	}
	a, err := out.Approval.model()
	if err != nil {
		return store.Approval{}, malformed(name, err)
	}
	return a, nil
}

// Policy implements store.Policies.
func (c *Client) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	var out policyMsg
	if err := c.call(ctx, "policy", &tenantReq{Tenant: tenant}, &out); err != nil {
		return store.PolicyDoc{}, err
	}
	return out.Policy.model(), nil
}

// PutPolicy implements store.Policies.
func (c *Client) PutPolicy(ctx context.Context, doc store.PolicyDoc, expectVersion int64) (store.PolicyDoc, error) {
	var out policyMsg
	if err := c.call(ctx, "put_policy", &putPolicyReq{Policy: toWirePolicy(doc), ExpectVersion: expectVersion}, &out); err != nil {
		return store.PolicyDoc{}, err
	}
	return out.Policy.model(), nil
}

// AppendAudit implements store.Audit.
func (c *Client) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	return c.call(ctx, "append_audit", &recordsMsg{Records: toWireRecords(recs)}, &emptyMsg{})
}

// AuditHead implements store.Audit.
func (c *Client) AuditHead(ctx context.Context, chain string) (store.AuditRecord, error) {
	var out recordResp
	if err := c.call(ctx, "audit_head", &chainReq{Chain: chain}, &out); err != nil {
		return store.AuditRecord{}, err
	}
	r, err := out.Record.model()
	if err != nil {
		return store.AuditRecord{}, malformed("audit_head", err)
	}
	return r, nil
}

// QueryAudit implements store.Audit.
func (c *Client) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	var out recordsMsg
	if err := c.call(ctx, "query_audit", &queryAuditReq{Query: toWireAuditQuery(q)}, &out); err != nil {
		return nil, err
	}
	recs, err := modelRecords(out.Records)
	if err != nil {
		return nil, malformed("query_audit", err)
	}
	return recs, nil
}

// CreateKey implements store.Keys.
func (c *Client) CreateKey(ctx context.Context, k store.Key) error {
	return c.call(ctx, "create_key", &keyMsg{Key: toWireKey(k)}, &emptyMsg{})
}

// KeyByHash implements store.Keys.
func (c *Client) KeyByHash(ctx context.Context, hash [32]byte) (store.Key, error) {
	var out keyMsg
	if err := c.call(ctx, "key_by_hash", &hashReq{Hash: store.Hash(hash)}, &out); err != nil {
		return store.Key{}, err
	}
	return out.Key.model(), nil
}

// Key implements store.Keys.
func (c *Client) Key(ctx context.Context, tenant, id string) (store.Key, error) {
	var out keyMsg
	if err := c.call(ctx, "key", &tenantIDReq{Tenant: tenant, ID: id}, &out); err != nil {
		return store.Key{}, err
	}
	return out.Key.model(), nil
}

// Keys implements store.Keys.
func (c *Client) Keys(ctx context.Context, tenant string) ([]store.Key, error) {
	var out keysResp
	if err := c.call(ctx, "keys", &tenantReq{Tenant: tenant}, &out); err != nil {
		return nil, err
	}
	ks := make([]store.Key, len(out.Keys))
	for i := range out.Keys {
		ks[i] = out.Keys[i].model()
	}
	return ks, nil
}

// CreateHop implements store.Hops.
func (c *Client) CreateHop(ctx context.Context, h store.Hop) error {
	return c.call(ctx, "create_hop", &hopReq{Hop: toWireHop(h)}, &emptyMsg{})
}

// Hops implements store.Hops.
func (c *Client) Hops(ctx context.Context, f store.HopFilter) ([]store.Hop, error) {
	var out hopsResp
	if err := c.call(ctx, "hops", &hopsReq{Filter: wireHopFilter{Tenant: f.Tenant, TokenID: f.TokenID, KeyID: f.KeyID}}, &out); err != nil {
		return nil, err
	}
	hs := make([]store.Hop, len(out.Hops))
	for i := range out.Hops {
		hs[i] = out.Hops[i].model()
	}
	return hs, nil
}

// Evaluate implements agenttrust.PolicyEngine by asking the evaluate route.
// Attribute values travel as JSON: numbers arrive as json.Number, and a
// value JSON cannot carry (NaN, an infinity, a channel) makes Evaluate
// fail with agenttrust.ErrInvalidRequest, so the check denies, as a deny
// the request caused (so does every attribute refused below). A deny the server's engine answers with
// ErrUnevaluable or ErrInvalidRequest comes back as that error, never as
// the engine failing, so the asking client's breaker counts it as it
// would in process. A Go value the rule engine judges as
// nothing (a []byte, a time.Time, a named type, a struct) travels as an
// empty object, judged as nothing there too, never as the string or
// number of its JSON form; a float32 whose binary value differs from its
// printed decimal (0.7) makes Evaluate fail, as does such a Go value
// nested in a map[string]any or []any. The route is idempotent and is
// retried as WithBackoff allows.
func (c *Client) Evaluate(ctx context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
	if in == nil {
		return agenttrust.PolicyResult{}, &Error{Op: "evaluate", Message: "nil input", err: []error{store.ErrInvalid}}
	}
	wi := toWirePolicyInput(in)
	attrs, bad, why := wire.SendableAttributes(in.Attributes)
	if bad != "" {
		// The request's own value: a deny it caused, as encoding fails below.
		return agenttrust.PolicyResult{}, &Error{Op: "evaluate", Message: fmt.Sprintf("attribute %q: %s", bad, why), err: []error{store.ErrInvalid, agenttrust.ErrInvalidRequest}}
	}
	wi.Attributes = attrs
	if c.closed.Load() {
		return agenttrust.PolicyResult{}, &Error{Op: "evaluate", Message: "client closed", err: []error{store.ErrClosed}}
	}
	if err := ctx.Err(); err != nil {
		return agenttrust.PolicyResult{}, fmt.Errorf("%s evaluate: %w", prefix, err)
	}
	body, err := encode(&evaluateReq{Input: wi})
	if err != nil {
		// Only the request's own values fail to encode (an attribute
		// that is NaN, an infinity, text that is not UTF-8): in process
		// such a value makes a condition unevaluable, a deny the request
		// caused, which the asking client's breaker counts.
		return agenttrust.PolicyResult{}, &Error{Op: "evaluate", Message: "cannot encode the request: " + err.Error(), err: []error{store.ErrInvalid, agenttrust.ErrInvalidRequest}}
	}
	var out evaluateResp
	if err := c.callEncoded(ctx, c.routes["evaluate"], body, &out); err != nil {
		return agenttrust.PolicyResult{}, err
	}
	r := out.Result
	return agenttrust.PolicyResult{Effect: r.Effect, Rule: r.Rule, Reason: r.Reason, Approvers: r.Approvers, ApprovalTimeout: r.ApprovalTimeout}, nil
}
