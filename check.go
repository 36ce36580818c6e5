package agenttrust

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/store"
)

// Reasons on the hot path are constants, so a decision costs no
// formatting.
const (
	reasonInvalid           = "invalid request"
	reasonStoreDown         = "store unavailable"
	reasonAuditDown         = "audit unavailable"
	reasonViewStale         = "revocation view stale"
	reasonPolicyError       = "policy engine failed"
	reasonClosed            = "client closed"
	reasonRateLimited       = "rate limit exceeded"
	reasonAgentRevoked      = "agent revoked"
	reasonSessionRevoked    = "session revoked"
	reasonAgentSuspended    = "agent suspended"
	reasonSessionSuspend    = "session suspended"
	reasonCredentialError   = "credential rejected"
	reasonCredentialRevoked = "credential revoked"
	reasonPolicyPanic       = "policy engine panicked"
)

// maxAuditAttrBytes bounds the attributes kept in one audit record.
const maxAuditAttrBytes = 16 << 10

// checkState is per-check scratch space, pooled so a check allocates
// nothing once warm.
type checkState struct {
	ids  []string
	in   PolicyInput
	cred credential
	// env is the request as caveats and policy conditions see it, built
	// once the request is valid; the credential phase sets its agent and
	// hops.
	env cond.Env
	kvs []attrKV // the request's attributes, captured for the audit
	fp  []byte   // scratch for approval fingerprints and attributes
	// valid is set once the request's fields passed validateRequest,
	// which leaves them storable as they are (names, NFC resource).
	valid bool
}

// reset drops every reference to the caller's data before the state goes
// back to the pool.
func (s *checkState) reset() {
	clear(s.ids)
	s.ids = s.ids[:0]
	clear(s.kvs)
	s.kvs = s.kvs[:0]
	s.cred = credential{}
	s.env = cond.Env{}
	s.valid = false
}

// Check decides whether req may proceed and records the decision. It
// never returns an Allow together with an error: every error (bad input,
// bad credential, store or audit trouble) comes with a Deny whose Reason
// says why. Deny and NeedsApproval are results, not errors.
//
// The phases, in order: request validation, credential (when present),
// revocation and suspension, rate limits, policy, approval, runaway
// breaker, audit. A PolicyEngine that panics is a failure like any
// other: the check denies with ErrPolicyEngine and is recorded. The
// record keeps every text as any store can hold it: each NUL byte and
// each byte that is not UTF-8 becomes U+FFFD.
func (c *Client) Check(ctx context.Context, req Request) (d Decision, err error) {
	now := c.clock.Now()
	st := c.pool.Get().(*checkState)
	err = c.check(ctx, &req, now, st, &d)
	st.reset()
	c.pool.Put(st)
	return d, err
}

// check fills *d, the caller's result, in place.
func (c *Client) check(ctx context.Context, req *Request, now time.Time, st *checkState, d *Decision) error {
	if c.audit.durable {
		c.audit.inflight.Add(1) // until record has waited for its record
	}
	d.ID = c.ids.next(now)
	// Capture the attributes once, for validation, policy and the audit
	// record: the only pass over the caller's map.
	if len(req.Attributes) <= MaxAttributes {
		st.kvs = captureAttrs(st.kvs, req.Attributes)
	} else {
		st.kvs = append(st.kvs[:0], attrKV{Name: "_truncated", Value: true})
	}
	var err error
	switch {
	case c.closed.Load():
		d.Reason, err = reasonClosed, ErrClosed
	case !c.audit.healthy(now):
		d.Reason, err = reasonAuditDown, fmt.Errorf("%w: audit writes failing for more than %s", ErrAuditUnavailable, c.audit.stuckAfter)
	default:
		err = c.decide(ctx, req, now, st, d)
	}
	if err != nil {
		d.Effect, d.ApprovalID = Deny, ""
	}
	if d.AgentID == "" {
		d.AgentID = req.AgentID
	}
	if aerr := c.record(ctx, req, d, now, st); aerr != nil && err == nil {
		*d = Decision{ID: d.ID, Reason: reasonAuditDown}
		err = aerr
	}
	return err
}

// decide runs phases 1-5 and the breaker, filling d. On error d's effect
// is ignored and the check denies.
func (c *Client) decide(ctx context.Context, req *Request, now time.Time, st *checkState, d *Decision) error {
	if err := validateRequest(req, st.kvs); err != nil {
		d.Reason = reasonInvalid
		return err
	}
	st.valid = true
	if req.VouchedBy != "" {
		if err := validText("vouched by", req.VouchedBy, 256); err != nil {
			d.Reason = reasonInvalid
			return err
		}
		d.VouchedBy = req.VouchedBy
	}

	st.env = requestEnv(c.tenant, req, st.kvs, nil, now)

	// Phase 1: credential. It decides who is acting. Once its signature
	// verified, the record names it even if a caveat refuses it.
	if req.Credential != "" {
		err := c.identify(ctx, req, now, st)
		d.CredentialID, d.HopIDs = st.cred.id, st.cred.hops
		if err != nil {
			d.Reason = reasonCredentialError
			return err
		}
	}
	d.AgentID = req.AgentID

	// Phase 2: revocation and suspension.
	if err := c.checkBlocked(ctx, req, now, st, d); err != nil || d.Reason != "" {
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

	// Phase 4: policy. The built-in engine is called directly on the
	// condition environment; other engines get a PolicyInput.
	var res PolicyResult
	var err error
	if ps.compiled != nil {
		if res, err = ps.compiled.evaluateEnv(&st.env); err != nil {
			d.Rule, d.Reason = res.Rule, res.Reason
			return err
		}
	} else {
		in := &st.in
		*in = PolicyInput{
			Tenant: c.tenant, AgentID: req.AgentID, Tool: req.Tool, Resource: req.Resource,
			SessionID: req.SessionID, OnBehalfOf: req.OnBehalfOf, RemoteAddr: req.RemoteAddr,
			Attributes: req.Attributes, HopIDs: st.cred.hops, Time: now,
		}
		var panicked bool
		res, panicked, err = evaluate(ctx, ps.engine, in)
		*in = PolicyInput{} // the engine must not keep it; neither do we
		if panicked {
			d.Reason = reasonPolicyPanic
			return err
		}
	}
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

// evaluate calls a policy engine other than the built-in one, turning a
// panic into an error: a bug in the engine denies, and Check still
// records the decision and returns its pooled state.
func evaluate(ctx context.Context, e PolicyEngine, in *PolicyInput) (res PolicyResult, panicked bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, panicked = PolicyResult{}, true
			err = fmt.Errorf("%w: engine panicked with %s", ErrPolicyEngine, panicText(p))
		}
	}()
	res, err = e.Evaluate(ctx, in)
	return res, false, err
}

// panicText describes a recovered panic value for an error or a log. It
// quotes the value only when it is an error or a string, clipped, and not
// when it looks like a credential: a callback may panic with its input,
// which holds the request's attributes.
func panicText(p any) string {
	var msg string
	switch v := p.(type) {
	case error:
		msg = v.Error()
	case string:
		msg = v
	default:
		return fmt.Sprintf("a value of type %T", p)
	}
	if mayHoldCredential(msg) {
		return "a text withheld as it may hold a credential"
	}
	return strconv.Quote(storable(msg, maxPanicText))
}

// maxPanicText bounds the panic text an error quotes.
const maxPanicText = 200

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

// validateRequest checks every text field of req. Names (agent, tool,
// session, on-behalf-of) must be in their one canonical form (validName);
// the resource is normalised to NFC in place and refused when it holds a
// dot segment, a backslash, an encoded separator or an invisible
// character (cond.CheckResource), which could name to whatever reads it
// next another resource than the one the policy's globs saw.
func validateRequest(req *Request, attrs []attrKV) error {
	var err error
	if req.Credential == "" && req.AgentID == "" {
		return fmt.Errorf("%w: agent id is required", ErrInvalidRequest)
	}
	if req.Tool == "" {
		return fmt.Errorf("%w: tool is required", ErrInvalidRequest)
	}
	if req.AgentID != "" {
		if err := validName("agent id", req.AgentID); err != nil {
			return err
		}
	}
	if err := validName("tool", req.Tool); err != nil {
		return err
	}
	if req.Resource, err = normText("resource", req.Resource, maxFieldLen); err != nil {
		return err
	}
	if msg := cond.CheckResource(req.Resource); msg != "" {
		return fmt.Errorf("%w: resource %s", ErrInvalidRequest, msg)
	}
	if req.SessionID != "" {
		if err := validName("session id", req.SessionID); err != nil {
			return err
		}
	}
	if req.OnBehalfOf != "" {
		if err := validName("on_behalf_of", req.OnBehalfOf); err != nil {
			return err
		}
	}
	if len(req.Attributes) > MaxAttributes {
		return fmt.Errorf("%w: more than %d attributes", ErrInvalidRequest, MaxAttributes)
	}
	for _, kv := range attrs {
		k := kv.Name
		if k == "" {
			return fmt.Errorf("%w: empty attribute name", ErrInvalidRequest)
		}
		if err := validText("attribute name", k, maxAttrKeyLen); err != nil {
			return err
		}
	}
	return nil
}

// record is phase 6: it queues the audit record of d. Every text is made
// storable (see storable.go), and the request's fields are clipped so a
// hostile request can neither bloat nor stop the trail; the attributes
// are made storable where the flusher encodes them (appendKVs).
//
// In durable mode it then waits until the record is written. If that
// fails, the check denies, and since the record may still be written
// later with the decision it held, a note records the withdrawal.
func (c *Client) record(ctx context.Context, req *Request, d *Decision, now time.Time, st *checkState) error {
	var latency time.Duration
	if c.latency {
		latency = c.clock.Now().Sub(now)
	}
	// Every text is made storable before the queue's lock is taken, which
	// begin holds until end: the flusher waits on that lock.
	agent, obo, session, tool, resource := clip(req.AgentID), req.OnBehalfOf, req.SessionID, req.Tool, req.Resource
	if !st.valid || len(resource) > maxFieldLen {
		// A request that passed validation has these storable as they
		// are: names, and a resource of valid UTF-8 without control
		// characters (which NFC may have lengthened).
		obo, session, tool, resource = clip(obo), clip(session), clip(tool), clip(resource)
	}
	cred, hops, vouched := storable(d.CredentialID, noLimit), storableList(d.HopIDs), storable(d.VouchedBy, noLimit)
	rule, reason, approval := storable(d.Rule, noLimit), storable(d.Reason, noLimit), storable(d.ApprovalID, noLimit)
	p, err := c.audit.begin()
	if err != nil {
		if c.audit.durable {
			c.audit.inflight.Add(-1)
		}
		return err
	}
	// Filled in place in the queue: no copy on this path. The flusher adds
	// chain, tenant, sequence, attributes and hashes. Every field is set:
	// queue slots are reused.
	p.id = d.ID
	p.unixNano = now.UnixMicro() * 1000 // records keep microseconds
	p.latency = latency
	p.agent, p.obo, p.session, p.tool, p.resource = agent, obo, session, tool, resource
	p.cred, p.hops, p.vouched = cred, hops, vouched
	p.effect = d.Effect
	p.rule, p.reason, p.approval = rule, reason, approval
	ticket := c.audit.end(p, st.kvs)
	if !c.audit.durable {
		return nil
	}
	err = c.audit.await(ctx, ticket)
	c.audit.inflight.Add(-1)
	if err != nil && d.Effect != Deny {
		c.withdraw(d, now)
	}
	return err
}

// withdraw queues a note that decision d, whose record could not be made
// durable in time, was answered with a deny instead.
func (c *Client) withdraw(d *Decision, now time.Time) {
	p, err := c.audit.begin()
	if err != nil {
		return // closed or full: the caller was denied either way
	}
	*p = pending{
		id:       c.ids.next(now),
		unixNano: now.UnixMicro() * 1000,
		agent:    clip(d.AgentID),
		effect:   Deny,
		rule:     "agenttrust.audit_withdrawn",
		reason:   "decision " + d.ID.String() + " withdrawn: its audit record was not durable in time; the caller was denied",
	}
	c.audit.end(p, nil)
}
