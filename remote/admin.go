package remote

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// The admin operations. Each needs the matching role on the client's
// credential (the server answers 403, ErrForbidden, otherwise) and acts in
// the credential's tenant.

// KeyInfo is an API key as listed by the server: the stored key (its Hash
// is never sent and stays zero) and whether it has been revoked.
type KeyInfo struct {
	agenttrust.Key
	Revoked bool
}

// Whoami returns who the client's credential proves it to be.
func (c *Client) Whoami(ctx context.Context) (agenttrust.Principal, error) {
	var out wire.PrincipalView
	if err := c.do(ctx, &call{op: "Whoami", method: http.MethodGet, path: "/v1/whoami", idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return agenttrust.Principal{}, err
	}
	return agenttrust.Principal{
		Tenant: out.Tenant, AgentID: out.AgentID, KeyID: out.KeyID, CredentialID: out.CredentialID,
		HopIDs: out.HopIDs, Roles: out.Roles, Caveats: out.Caveats,
	}, nil
}

// CreateKey makes an API key for an agent of the client's tenant (POST
// /v1/keys) and returns its secret, shown only here, and the stored key.
// It is never retried: a lost answer leaves a key whose secret nobody
// has, to be revoked.
func (c *Client) CreateKey(ctx context.Context, spec agenttrust.KeySpec) (string, agenttrust.Key, error) {
	req := &wire.CreateKeyRequest{AgentID: spec.AgentID, Name: spec.Name, Roles: spec.Roles, AllowedIPs: spec.AllowedIPs, Caveats: spec.Caveats}
	if !spec.ExpiresAt.IsZero() {
		t := spec.ExpiresAt.UTC()
		req.ExpiresAt = &t
	}
	var out wire.CreateKeyResponse
	if err := c.do(ctx, &call{op: "CreateKey", method: http.MethodPost, path: "/v1/keys", body: req, status: http.StatusCreated, out: &out}); err != nil {
		return "", agenttrust.Key{}, err
	}
	if out.Secret == "" {
		return "", agenttrust.Key{}, c.malformed("CreateKey", "no secret")
	}
	return out.Secret, keyInfo(&out.Key).Key, nil
}

// ListKeys lists the tenant's keys, never their secrets (GET /v1/keys).
func (c *Client) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	var out wire.KeyList
	if err := c.do(ctx, &call{op: "ListKeys", method: http.MethodGet, path: "/v1/keys", idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	ks := make([]KeyInfo, len(out.Keys))
	for i := range out.Keys {
		ks[i] = keyInfo(&out.Keys[i])
	}
	return ks, nil
}

// RevokeKey revokes an API key by id, and every token derived from it
// (POST /v1/keys/{id}/revoke). Revoking is idempotent and retried.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, &call{op: "RevokeKey", method: http.MethodPost, path: "/v1/keys/" + pathEscape(id) + "/revoke", idempotent: true, status: http.StatusNoContent})
}

// Exchange trades an API key for a short-lived token (POST /v1/tokens),
// narrowed by caveats. apiKey is the key to exchange and is sent as the
// request's credential; empty means the client's own.
func (c *Client) Exchange(ctx context.Context, apiKey string, caveats ...string) (string, error) {
	return c.exchange(ctx, "Exchange", apiKey, &wire.ExchangeRequest{Caveats: caveats})
}

// ExchangeJWT is Exchange in JWT form, for audience.
func (c *Client) ExchangeJWT(ctx context.Context, apiKey, audience string, caveats ...string) (string, error) {
	return c.exchange(ctx, "ExchangeJWT", apiKey, &wire.ExchangeRequest{Format: "jwt", Audience: audience, Caveats: caveats})
}

func (c *Client) exchange(ctx context.Context, op, apiKey string, req *wire.ExchangeRequest) (string, error) {
	if apiKey != "" {
		if err := validCredential(apiKey); err != nil {
			return "", &Error{Op: op, Message: "bad API key", err: []error{agenttrust.ErrMalformedCredential}}
		}
	}
	var out wire.TokenResponse
	if err := c.do(ctx, &call{op: op, method: http.MethodPost, path: "/v1/tokens", body: req, bearer: apiKey, status: http.StatusCreated, out: &out}); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", c.malformed(op, "no token")
	}
	return out.Token, nil
}

// Delegate narrows token on the server, which records the hop (POST
// /v1/tokens/delegate): see agenttrust.Client.Delegate. ttl, when
// positive, shortens the new token's life; it travels in whole seconds,
// rounded up. A negative ttl is refused with ErrInvalidRequest before
// any request is sent. The client's credential must be an admin's, or
// the token's own agent's.
func (c *Client) Delegate(ctx context.Context, token string, ttl time.Duration, caveats ...string) (string, agenttrust.Hop, error) {
	if token == "" {
		return "", agenttrust.Hop{}, &Error{Op: "Delegate", Message: "empty token", err: []error{agenttrust.ErrInvalidRequest}}
	}
	if ttl < 0 {
		return "", agenttrust.Hop{}, &Error{Op: "Delegate", Message: "negative ttl", err: []error{agenttrust.ErrInvalidRequest}}
	}
	req := &wire.DelegateRequest{Token: token, Caveats: caveats}
	if ttl > 0 {
		req.TTLSeconds = int64((ttl + time.Second - 1) / time.Second)
	}
	var out wire.DelegateResponse
	if err := c.do(ctx, &call{op: "Delegate", method: http.MethodPost, path: "/v1/tokens/delegate", body: req, status: http.StatusCreated, out: &out}); err != nil {
		return "", agenttrust.Hop{}, err
	}
	if out.Token == "" {
		return "", agenttrust.Hop{}, c.malformed("Delegate", "no token")
	}
	h := out.Hop
	return out.Token, agenttrust.Hop{
		ID: h.ID, Parent: h.Parent, TokenID: h.TokenID, KeyID: h.KeyID, AgentID: h.AgentID,
		Caveats: h.Caveats, CreatedAt: h.CreatedAt, ExpiresAt: h.ExpiresAt,
	}, nil
}

// InspectToken returns what a token of the client's tenant says about
// itself (POST /v1/tokens/inspect). Like agenttrust.InspectTokenUnverified
// it does not verify the token: use Check for that.
func (c *Client) InspectToken(ctx context.Context, token string) (agenttrust.TokenInfo, error) {
	var out wire.TokenInfo
	if err := c.do(ctx, &call{op: "InspectToken", method: http.MethodPost, path: "/v1/tokens/inspect", body: &wire.InspectRequest{Token: token}, idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return agenttrust.TokenInfo{}, err
	}
	return agenttrust.TokenInfo{
		ID: out.ID, KeyID: out.KeyID, Tenant: out.Tenant, AgentID: out.AgentID,
		ExpiresAt: out.ExpiresAt, HopIDs: out.HopIDs, Caveats: out.Caveats,
	}, nil
}

// Revoke permanently blocks id in the client's tenant: an agent, session,
// API key, token or delegation hop (POST /v1/revocations). It is in force
// for every check that starts after it returns on the server's node and,
// when the server's store is read on every check, on its every node;
// nodes in notify mode deny within their MaxStaleness. Idempotent and
// retried.
func (c *Client) Revoke(ctx context.Context, id string) error {
	return c.do(ctx, &call{op: "Revoke", method: http.MethodPost, path: "/v1/revocations", body: &wire.RevokeRequest{ID: id}, idempotent: true, status: http.StatusNoContent})
}

// Blocks lists the tenant's revocations and suspensions (GET
// /v1/revocations); Tenant is left empty.
func (c *Client) Blocks(ctx context.Context) ([]store.Block, error) {
	var out wire.BlockList
	if err := c.do(ctx, &call{op: "Blocks", method: http.MethodGet, path: "/v1/revocations", idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	bs := make([]store.Block, len(out.Blocks))
	for i, v := range out.Blocks {
		b := store.Block{ID: v.ID, Reason: v.Reason, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt}
		if err := b.Kind.UnmarshalText([]byte(v.Kind)); err != nil {
			return nil, c.malformed("Blocks", err.Error())
		}
		bs[i] = b
	}
	return bs, nil
}

// Suspend is the kill switch: every check by agent or session id denies
// from when it returns until Resume (POST /v1/agents/{id}/suspend), on
// the node that answered and on every node that reads the store on each
// check; nodes in notify mode deny within their MaxStaleness. Idempotent
// and retried.
func (c *Client) Suspend(ctx context.Context, id, reason string) error {
	return c.do(ctx, &call{op: "Suspend", method: http.MethodPost, path: "/v1/agents/" + pathEscape(id) + "/suspend", body: &wire.SuspendRequest{Reason: reason}, idempotent: true, status: http.StatusNoContent})
}

// Resume lifts a suspension (POST /v1/agents/{id}/resume); it returns
// agenttrust.ErrNotFound when id is not suspended. Not retried: a retry
// after a lost answer would report ErrNotFound for a resume that worked.
func (c *Client) Resume(ctx context.Context, id string) error {
	return c.do(ctx, &call{op: "Resume", method: http.MethodPost, path: "/v1/agents/" + pathEscape(id) + "/resume", status: http.StatusNoContent})
}

// Approvals lists the tenant's approvals matching f, oldest first (GET
// /v1/approvals): all of them for an admin or approver, an agent's own
// otherwise. f.Tenant is ignored; a zero f.Limit takes the server's
// default (100).
func (c *Client) Approvals(ctx context.Context, f agenttrust.ApprovalFilter) ([]agenttrust.Approval, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.AgentID != "" {
		q.Set("agent_id", f.AgentID)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out wire.ApprovalList
	if err := c.do(ctx, &call{op: "Approvals", method: http.MethodGet, path: "/v1/approvals", query: q, idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	as := make([]agenttrust.Approval, len(out.Approvals))
	for i := range out.Approvals {
		a, err := c.approvalModel("Approvals", &out.Approvals[i])
		if err != nil {
			return nil, err
		}
		as[i] = a
	}
	return as, nil
}

// Approve grants a pending approval (POST /v1/approvals/{id}/approve) and
// returns it as decided. The approver is the principal of the client's
// credential, which must hold the approver or admin role and differ from
// the agent that asked (an error matching ErrForbidden and
// agenttrust.ErrInvalidRequest otherwise). Not retried.
func (c *Client) Approve(ctx context.Context, id, note string) (agenttrust.Approval, error) {
	return c.decide(ctx, "Approve", id, "approve", note)
}

// DenyApproval refuses a pending approval (POST /v1/approvals/{id}/deny),
// as Approve grants one.
func (c *Client) DenyApproval(ctx context.Context, id, note string) (agenttrust.Approval, error) {
	return c.decide(ctx, "DenyApproval", id, "deny", note)
}

// ApproveAndRemember grants a pending approval and remembers it, as
// agenttrust.Client.ApproveAndRemember does (POST
// /v1/approvals/{id}/approve with remember), and returns the approval and
// the id of the grant made. Not retried.
func (c *Client) ApproveAndRemember(ctx context.Context, id, note string, r store.Remember) (agenttrust.Approval, string, error) {
	const op = "ApproveAndRemember"
	var out wire.ApprovalView
	err := c.do(ctx, &call{
		op: op, method: http.MethodPost, path: "/v1/approvals/" + pathEscape(id) + "/approve",
		body:   &wire.DecideRequest{Note: note, Remember: &wire.Remember{Uses: r.Uses, ValidFor: r.For.String(), Resources: r.Resources}},
		status: http.StatusOK, out: &out, notFound: errs.ApprovalNotFound,
	})
	if err != nil {
		return agenttrust.Approval{}, "", err
	}
	if !strings.HasPrefix(out.GrantID, "grt_") {
		return agenttrust.Approval{}, "", &Error{Op: op, Status: http.StatusOK, Message: "malformed answer: no grant id", err: []error{agenttrust.ErrStoreUnavailable}}
	}
	a, err := c.approvalAnswer(op, &out, id, agenttrust.ApprovalApproved)
	if err != nil {
		return agenttrust.Approval{}, "", err
	}
	return a, out.GrantID, nil
}

// Grants lists the tenant's live remembered approvals (GET /v1/grants),
// of one agent when agentID is not empty.
func (c *Client) Grants(ctx context.Context, agentID string) ([]store.Grant, error) {
	path := "/v1/grants"
	if agentID != "" {
		path += "?agent_id=" + url.QueryEscape(agentID)
	}
	var out wire.GrantList
	if err := c.do(ctx, &call{op: "Grants", method: http.MethodGet, path: path, status: http.StatusOK, out: &out, idempotent: true}); err != nil {
		return nil, err
	}
	gs := make([]store.Grant, 0, len(out.Grants))
	for _, v := range out.Grants {
		gs = append(gs, store.Grant{
			ID: v.ID, ApprovalID: v.ApprovalID, AgentID: v.AgentID, OnBehalfOf: v.OnBehalfOf, Tool: v.ToolName,
			Rule: v.RuleID, Resource: v.Resource, Resources: v.Resources, UsesLeft: v.UsesLeft,
			ExpiresAt: v.ExpiresAt, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt,
		})
	}
	return gs, nil
}

func (c *Client) decide(ctx context.Context, op, id, verb, note string) (agenttrust.Approval, error) {
	var out wire.ApprovalView
	err := c.do(ctx, &call{
		op: op, method: http.MethodPost, path: "/v1/approvals/" + pathEscape(id) + "/" + verb,
		body: &wire.DecideRequest{Note: note}, status: http.StatusOK, out: &out, notFound: errs.ApprovalNotFound,
	})
	if err != nil {
		return agenttrust.Approval{}, err
	}
	want := agenttrust.ApprovalApproved
	if verb == "deny" {
		want = agenttrust.ApprovalDenied
	}
	return c.approvalAnswer(op, &out, id, want)
}

// QueryAudit returns one page of the tenant's audit records matching q,
// in (chain, seq) order (GET /v1/audit), and the query of the next page,
// nil after the last one:
//
//	for q := (&store.AuditQuery{AgentID: "billing-bot"}); q != nil; {
//		recs, next, err := c.QueryAudit(ctx, *q)
//		...
//		q = next
//	}
//
// q.Tenant is ignored (the credential's tenant applies); q.Limit is the
// page size, 1-1000, default 100.
func (c *Client) QueryAudit(ctx context.Context, q store.AuditQuery) ([]agenttrust.AuditRecord, *store.AuditQuery, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("chain", q.Chain)
	set("agent_id", q.AgentID)
	set("tool", q.Tool)
	if q.Effect != nil {
		set("effect", q.Effect.String())
	}
	if !q.Since.IsZero() {
		set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if !q.DecisionID.IsZero() {
		set("decision_id", q.DecisionID.String())
	}
	set("after_chain", q.AfterChain)
	if q.AfterSeq != 0 {
		set("after_seq", strconv.FormatUint(q.AfterSeq, 10))
	}
	if q.Limit > 0 {
		set("limit", strconv.Itoa(q.Limit))
	}
	var out wire.AuditPage
	if err := c.do(ctx, &call{op: "QueryAudit", method: http.MethodGet, path: "/v1/audit", query: v, idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return nil, nil, err
	}
	recs := make([]agenttrust.AuditRecord, len(out.Records))
	copy(recs, out.Records)
	if out.Next == nil {
		return recs, nil, nil
	}
	next := q
	next.AfterChain, next.AfterSeq = out.Next.AfterChain, out.Next.AfterSeq
	return recs, &next, nil
}

// AuditReport is the server's verification of the tenant's audit chains.
type AuditReport struct {
	OK     bool
	Chains []ChainReport
}

// ChainReport is the verification of one chain: how many records were
// read and, when it is broken, where and why.
type ChainReport struct {
	Chain             string
	OK                bool
	Records           int
	FirstSeq, LastSeq uint64
	HeadHash          string
	// CheckpointSeq is where the answering node's checkpoint of the chain
	// stands; 0 when it has none.
	CheckpointSeq uint64
	ProblemSeq    uint64
	Problem       string
}

// VerifyAudit has the server read and verify the tenant's audit chains, or
// only chain when it is not empty (GET /v1/audit/verify). A broken chain
// is reported in the AuditReport, with a nil error.
func (c *Client) VerifyAudit(ctx context.Context, chain string) (AuditReport, error) {
	q := url.Values{}
	if chain != "" {
		q.Set("chain", chain)
	}
	var out wire.VerifyResponse
	if err := c.do(ctx, &call{op: "VerifyAudit", method: http.MethodGet, path: "/v1/audit/verify", query: q, idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return AuditReport{}, err
	}
	r := AuditReport{OK: out.OK, Chains: make([]ChainReport, len(out.Chains))}
	for i, ch := range out.Chains {
		r.Chains[i] = ChainReport{Chain: ch.Chain, OK: ch.OK, Records: ch.Records, FirstSeq: ch.FirstSeq, LastSeq: ch.LastSeq, HeadHash: ch.HeadHash, CheckpointSeq: ch.CheckpointSeq}
		if ch.Problem != nil {
			r.Chains[i].ProblemSeq, r.Chains[i].Problem = ch.Problem.Seq, ch.Problem.Message
		}
		if !ch.OK {
			r.OK = false
		}
	}
	return r, nil
}

// PolicyDoc is the tenant's stored policy document.
type PolicyDoc struct {
	Version   int64
	Format    string // "json" or "yaml"
	Body      []byte
	UpdatedAt time.Time
}

// Policy returns the tenant's stored policy (GET /v1/policy), or
// agenttrust.ErrNotFound when none is stored.
func (c *Client) Policy(ctx context.Context) (PolicyDoc, error) {
	var out wire.PolicyView
	if err := c.do(ctx, &call{op: "Policy", method: http.MethodGet, path: "/v1/policy", idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return PolicyDoc{}, err
	}
	return PolicyDoc{Version: out.Version, Format: out.Format, Body: []byte(out.Body), UpdatedAt: out.UpdatedAt}, nil
}

// ValidatePolicy asks the server whether a policy document (format "json"
// or "yaml") would be accepted (POST /v1/policy/validate). It returns nil
// when it would, and otherwise the problems joined, each an
// *agenttrust.PolicyError matching agenttrust.ErrInvalidPolicy.
func (c *Client) ValidatePolicy(ctx context.Context, body []byte, format string) error {
	var out wire.ValidatePolicyResponse
	err := c.do(ctx, &call{op: "ValidatePolicy", method: http.MethodPost, path: "/v1/policy/validate",
		body: &wire.ValidatePolicyRequest{Format: format, Body: string(body)}, idempotent: true, status: http.StatusOK, out: &out})
	if err != nil {
		return err
	}
	if out.Valid {
		return nil
	}
	errs := make([]error, 0, len(out.Problems)+1)
	for _, p := range out.Problems {
		errs = append(errs, &agenttrust.PolicyError{Rule: p.Rule, Index: p.Index, Msg: p.Message})
	}
	if len(errs) == 0 {
		errs = append(errs, &agenttrust.PolicyError{Index: -1, Msg: "the server refused the policy"})
	}
	return errors.Join(errs...)
}

// ApplyPolicy stores a policy document as the tenant's policy if the
// stored version is still expectVersion (0 when there is none) and makes
// it live (PUT /v1/policy); it returns the new version. A stale
// expectVersion fails with ErrConflict, an invalid document with
// agenttrust.ErrInvalidPolicy; nothing changes then. Not retried.
func (c *Client) ApplyPolicy(ctx context.Context, body []byte, format string, expectVersion int64) (int64, error) {
	var out wire.PutPolicyResponse
	err := c.do(ctx, &call{op: "ApplyPolicy", method: http.MethodPut, path: "/v1/policy",
		body: &wire.PutPolicyRequest{Format: format, Body: string(body), ExpectVersion: &expectVersion}, status: http.StatusOK, out: &out})
	if err != nil {
		return 0, err
	}
	return out.Version, nil
}

// PublicKeys returns the public keys that verify the server's JWTs, by
// key id (GET /.well-known/jwks.json), for a resource server that
// verifies them itself. A key that is not an Ed25519 signing key makes
// the answer malformed: nothing is returned.
func (c *Client) PublicKeys(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	var set wire.JWKSet
	if err := c.do(ctx, &call{op: "PublicKeys", method: http.MethodGet, path: "/.well-known/jwks.json", idempotent: true, status: http.StatusOK, out: &set}); err != nil {
		return nil, err
	}
	out := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" || err != nil || len(x) != ed25519.PublicKeySize || out[k.Kid] != nil {
			return nil, c.malformed("PublicKeys", "not a set of distinct Ed25519 keys")
		}
		out[k.Kid] = ed25519.PublicKey(x)
	}
	return out, nil
}

// Health is the server's readiness.
type Health struct {
	Status string // "ready" or "unavailable"
	Store  string // "ok" or what failed
	Audit  string // "ok" or "stuck"
}

// Health asks whether the server is ready (GET /readyz). A server that
// answers but is not ready returns its Health and an error matching
// agenttrust.ErrAuditUnavailable when its audit is stuck, else
// agenttrust.ErrStoreUnavailable.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var out wire.ReadyResponse
	err := c.do(ctx, &call{op: "Health", method: http.MethodGet, path: "/readyz", idempotent: true, status: http.StatusOK, alsoOK: http.StatusServiceUnavailable, out: &out})
	h := Health{Status: out.Status, Store: out.Store, Audit: out.Audit}
	switch {
	case err == nil && out.Status == "ready":
		return h, nil
	case err == nil, errors.Is(err, errAlsoOK):
		sentinel := agenttrust.ErrStoreUnavailable
		if out.Audit != "" && out.Audit != "ok" && (out.Store == "" || out.Store == "ok") {
			sentinel = agenttrust.ErrAuditUnavailable
		}
		return h, &Error{Op: "Health", Status: http.StatusServiceUnavailable, Message: redactText("server not ready: store "+out.Store+", audit "+out.Audit, c.cred), err: []error{sentinel}}
	}
	return Health{}, err
}

// malformed reports an answer that decoded but lacks what it must hold.
// msg, which may quote the answer, is redacted as every text of an answer
// is (see redactText), sent naming credentials the request carried besides
// the client's own.
func (c *Client) malformed(op, msg string, sent ...string) *Error {
	return &Error{Op: op, Status: http.StatusOK, Message: "malformed answer: " + redactText(msg, append(sent, c.cred)...), err: []error{agenttrust.ErrStoreUnavailable}}
}

// BudgetInfo is one budget of a key, token or hop, as the server reports
// it: amounts in units, Scale of them per unit of an attribute's amount
// (one per call).
type BudgetInfo struct {
	Name                                   string
	Limit, Spent, Carved, Remaining, Scale int64
	Holder                                 string // the node it was carved from
	ExpiresAt                              time.Time
	Released                               bool
}

// Budgets returns the budgets the key, token or hop id holds, and what
// remains of each (GET /v1/budgets/{id}, admin); none when it holds none.
func (c *Client) Budgets(ctx context.Context, id string) ([]BudgetInfo, error) {
	var out wire.BudgetList
	if err := c.do(ctx, &call{op: "Budgets", method: http.MethodGet, path: "/v1/budgets/" + pathEscape(id), idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	bs := make([]BudgetInfo, len(out.Budgets))
	for i, v := range out.Budgets {
		bs[i] = BudgetInfo{Name: v.Name, Limit: v.Limit, Spent: v.Spent, Carved: v.Carved, Remaining: v.Remaining, Scale: v.Scale,
			Holder: v.Holder, ExpiresAt: v.ExpiresAt, Released: v.Released}
	}
	return bs, nil
}
