package agenttrust

import (
	"context"
	"fmt"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/store"
)

// Reasons on the hot path are constants, so a decision costs no
// formatting.
const (
	reasonInvalid         = "invalid request"
	reasonStoreDown       = "store unavailable"
	reasonAuditDown       = "audit unavailable"
	reasonPolicyError     = "policy engine failed"
	reasonClosed          = "client closed"
	reasonRateLimited     = "rate limit exceeded"
	reasonAgentRevoked    = "agent revoked"
	reasonSessionRevoked  = "session revoked"
	reasonAgentSuspended  = "agent suspended"
	reasonSessionSuspend  = "session suspended"
	reasonCredentialError = "credential rejected"
)

// checkState is per-check scratch space, pooled so a check allocates
// nothing once warm.
type checkState struct {
	ids   []string
	in    PolicyInput
	attrs []byte
	keys  []string
}

func (s *checkState) reset() {
	clear(s.ids)
	s.ids = s.ids[:0]
	s.in = PolicyInput{}
	s.attrs = s.attrs[:0]
}

// Check decides whether req may proceed and records the decision. It
// never returns an Allow together with an error: every error (bad input,
// bad credential, store or audit trouble) comes with a Deny whose Reason
// says why. Deny and NeedsApproval are results, not errors.
//
// The phases, in order: request validation, credential (when present),
// revocation and suspension, rate limits, policy, approval, runaway
// breaker, audit.
func (c *Client) Check(ctx context.Context, req Request) (Decision, error) {
	now := c.clock.Now()
	st := c.pool.Get().(*checkState)
	d, err := c.check(ctx, &req, now, st)
	st.reset()
	c.pool.Put(st)
	return d, err
}

func (c *Client) check(ctx context.Context, req *Request, now time.Time, st *checkState) (Decision, error) {
	d := Decision{ID: c.ids.next(now)}
	var err error
	switch {
	case c.closed.Load():
		d.Reason, err = reasonClosed, ErrClosed
	case !c.audit.healthy(now):
		d.Reason, err = reasonAuditDown, fmt.Errorf("%w: audit writes failing for more than %s", ErrAuditUnavailable, c.audit.stuckAfter)
	default:
		err = c.decide(ctx, req, now, st, &d)
	}
	if err != nil {
		d.Effect, d.ApprovalID = Deny, ""
	}
	if aerr := c.record(req, &d, now, st); aerr != nil && err == nil {
		d = Decision{ID: d.ID, Reason: reasonAuditDown}
		err = aerr
	}
	return d, err
}

// decide runs phases 1-5 and the breaker, filling d. On error d's effect
// is ignored and the check denies.
func (c *Client) decide(ctx context.Context, req *Request, now time.Time, st *checkState, d *Decision) error {
	if err := validateRequest(req); err != nil {
		d.Reason = reasonInvalid
		return err
	}
	req.AgentID, req.Tool, req.Resource = cond.NFC(req.AgentID), cond.NFC(req.Tool), cond.NFC(req.Resource)

	// Phase 1: credential. Verification arrives with the credential layer;
	// until then a request carrying one is refused rather than ignored.
	if req.Credential != "" {
		d.Reason = reasonCredentialError
		return ErrUnsupportedCredential
	}

	// Phase 2: revocation and suspension.
	if err := c.checkBlocked(ctx, req, st, d); err != nil || d.Reason != "" {
		return err
	}

	ps := c.policy.Load()
	// Phase 3: rate limits.
	if ps.compiled != nil && ps.compiled.nLimit > 0 {
		if l := ps.limiter.allow(ps.compiled, req.AgentID, req.Tool, now); l != nil {
			d.Reason, d.Rule = reasonRateLimited, l.id
			c.observeBreaker(ctx, req, now, d)
			return nil
		}
	}

	// Phase 4: policy.
	in := &st.in
	*in = PolicyInput{
		Tenant: c.tenant, AgentID: req.AgentID, Tool: req.Tool, Resource: req.Resource,
		SessionID: req.SessionID, OnBehalfOf: req.OnBehalfOf, RemoteAddr: req.RemoteAddr,
		Attributes: req.Attributes, Time: now,
	}
	res, err := ps.engine.Evaluate(ctx, in)
	if err != nil {
		d.Reason = reasonPolicyError
		return fmt.Errorf("%w: %w", ErrPolicyEngine, err)
	}
	if res.Effect > NeedsApproval {
		d.Reason = reasonPolicyError
		return fmt.Errorf("%w: invalid effect %d", ErrPolicyEngine, res.Effect)
	}
	d.Effect, d.Rule, d.Reason = res.Effect, res.Rule, res.Reason

	// Phase 5: approval.
	if d.Effect == NeedsApproval {
		if err := c.resolveApproval(ctx, req, &res, now, st, d); err != nil {
			return err
		}
	}
	c.observeBreaker(ctx, req, now, d)
	return nil
}

// checkBlocked is phase 2: one store lookup for every id the request
// names. It sets d.Reason when something is blocked.
func (c *Client) checkBlocked(ctx context.Context, req *Request, st *checkState, d *Decision) error {
	st.ids = append(st.ids[:0], req.AgentID)
	if req.SessionID != "" {
		st.ids = append(st.ids, req.SessionID)
	}
	b, blocked, err := c.store.Blocked(ctx, c.tenant, st.ids)
	if err != nil {
		d.Reason = reasonStoreDown
		return storeErr("revocation lookup", err)
	}
	if !blocked {
		return nil
	}
	agent := b.ID == req.AgentID
	if b.Kind == store.Revoked {
		d.Reason = reasonSessionRevoked
		if agent {
			d.Reason = reasonAgentRevoked
		}
		return fmt.Errorf("%w: %s", ErrRevoked, d.Reason)
	}
	d.Reason = reasonSessionSuspend
	if agent {
		d.Reason = reasonAgentSuspended
	}
	return nil
}

// observeBreaker feeds the runaway breaker and, when it trips, suspends the
// agent and turns this decision into a deny that says so.
func (c *Client) observeBreaker(ctx context.Context, req *Request, now time.Time, d *Decision) {
	if c.breaker == nil {
		return
	}
	why := c.breaker.observe(req.AgentID, now, d.Effect == Deny)
	if why == "" {
		return
	}
	err := c.store.Suspend(context.WithoutCancel(ctx), store.Block{Tenant: c.tenant, ID: req.AgentID, Kind: store.Suspended, Reason: why, CreatedAt: now})
	d.Effect, d.ApprovalID = Deny, ""
	d.Rule = "agenttrust.breaker"
	if err != nil {
		c.log.Error("agenttrust: runaway breaker could not suspend agent", "agent", req.AgentID, "err", err)
		d.Reason = why + "; suspending the agent failed: " + err.Error()
		return
	}
	d.Reason = why + "; agent suspended"
}

func validateRequest(req *Request) error {
	if err := validID("agent id", req.AgentID); err != nil {
		return err
	}
	if err := validID("tool", req.Tool); err != nil {
		return err
	}
	if err := validText("resource", req.Resource, maxFieldLen); err != nil {
		return err
	}
	if err := validText("session id", req.SessionID, 256); err != nil {
		return err
	}
	if err := validText("on_behalf_of", req.OnBehalfOf, 256); err != nil {
		return err
	}
	if len(req.Attributes) > MaxAttributes {
		return fmt.Errorf("%w: more than %d attributes", ErrInvalidRequest, MaxAttributes)
	}
	for k := range req.Attributes {
		if k == "" {
			return fmt.Errorf("%w: empty attribute name", ErrInvalidRequest)
		}
		if err := validText("attribute name", k, maxAttrKeyLen); err != nil {
			return err
		}
	}
	return nil
}

// record is phase 6: it queues the audit record of d. Fields are clipped
// so a hostile request cannot bloat the trail.
func (c *Client) record(req *Request, d *Decision, now time.Time, st *checkState) error {
	st.attrs = appendAttrs(st.attrs[:0], req.Attributes, &c.redact, &st.keys)
	rec := AuditRecord{
		ID:         d.ID,
		Time:       now.Truncate(time.Microsecond).UTC(),
		Tenant:     c.tenant,
		AgentID:    clip(req.AgentID),
		OnBehalfOf: clip(req.OnBehalfOf),
		SessionID:  clip(req.SessionID),
		Tool:       clip(req.Tool),
		Resource:   clip(req.Resource),
		Effect:     d.Effect,
		Rule:       d.Rule,
		Reason:     d.Reason,
		ApprovalID: d.ApprovalID,
		Latency:    c.clock.Now().Sub(now),
	}
	if len(st.attrs) > 16<<10 {
		st.attrs = append(st.attrs[:0], `{"_truncated":true}`...)
	}
	return c.audit.enqueue(&rec, st.attrs)
}

func clip(s string) string {
	if len(s) > maxFieldLen {
		return s[:maxFieldLen]
	}
	return s
}
