package agenttrust

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/errs"
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
	reasonPanicked          = "store, clock or random source failed"
)

// maxAuditAttrBytes bounds the attributes kept in one audit record; a
// record of larger ones keeps {truncatedAttr: true} instead, a name no
// request may use (validateRequest), so replay knows them lost.
const maxAuditAttrBytes = 16 << 10

// truncatedAttr is the one attribute of a record whose request's
// attributes were too many or too large to keep.
const truncatedAttr = "_truncated"

// checkState is per-check scratch space, pooled so a check allocates
// nothing once warm. Besides scratch it holds what the phases learn about
// the request that is not a verdict: who is acting (cred) and the facts
// a Decision reports.
type checkState struct {
	ids  []string
	in   PolicyInput
	cred credential
	kvs  []attrKV // the request's attributes, captured for the audit
	// attrBytes is the text kvs holds (captureAttrs).
	attrBytes int
	fp        []byte // scratch for approval fingerprints and attributes
	// valid is set once the request's fields passed validation, which
	// leaves them storable as they are (names, NFC resource).
	valid     bool
	vouchedBy string        // Request.VouchedBy, once valid
	staleness time.Duration // age of the revocation view read
	shadow    *shadowNote   // the shadow policy's disagreement, if any
	budget    budgetScratch // the budget phase's (budget.go)

	// tok is where a token is decoded when no cache keeps it (see
	// verifyInto).
	tok verifiedToken
}

// reset drops every reference to the caller's data before the state goes
// back to the pool.
func (s *checkState) reset() {
	clear(s.ids)
	s.ids = s.ids[:0]
	clear(s.kvs)
	s.kvs = s.kvs[:0]
	s.attrBytes = 0
	s.cred = credential{}
	if s.tok.id != "" {
		s.tok = verifiedToken{}
	}
	s.valid, s.vouchedBy, s.staleness = false, "", 0
	s.shadow = nil
	s.budget.reset()
}

// verdict is what a phase of Check decided. The zero verdict decides
// nothing, and the check goes on; a verdict that is done ends it with its
// effect. A phase that fails returns an error with a verdict saying why,
// and the check denies.
type verdict struct {
	done       bool
	effect     Effect
	reason     string
	rule       string
	approvalID string
}

// denied is the verdict of a phase that ends the check with a deny.
func denied(reason string) verdict { return verdict{done: true, reason: reason} }

// Check decides whether req may proceed and records the decision. It
// never returns an Allow together with an error: every error (bad input,
// bad credential, store or audit trouble) comes with a Deny whose Reason
// says why. Deny and NeedsApproval are results, not errors.
//
// The phases, in order: request validation, credential (when present),
// revocation and suspension, rate limits, policy, approval, runaway
// breaker, audit. A PolicyEngine that panics is a failure like any
// other: the check denies with ErrPolicyEngine and is recorded. So is a
// store, clock (WithClock) or random source (WithRandom) that panics
// during the check, or a clock that tells a time no record can hold
// (the zero time): the check denies with an error matching
// ErrInvalidConfig, is recorded, and the client goes on deciding. The
// record keeps every text as any store can hold it: each NUL byte and
// each byte that is not UTF-8 becomes U+FFFD.
func (c *Client) Check(ctx context.Context, req Request) (d Decision, err error) {
	st := c.pool.Get().(*checkState)
	now, err := c.check(ctx, &req, st, &d)
	if c.obs != nil {
		c.observeCheck(ctx, &req, now, &d, err)
	}
	st.reset()
	c.pool.Put(st)
	return d, err
}

// check reads the clock, runs the phases, makes the Decision of their
// verdict in *d (the caller's result, so it is not copied) and records
// it: the audit phase, whose failure turns any answer into a deny. It
// returns the time the check is stamped with.
func (c *Client) check(ctx context.Context, req *Request, st *checkState, d *Decision) (time.Time, error) {
	if c.audit.durable {
		c.audit.inflight.Add(1) // until record has waited for its record
	}
	// Capture the attributes once, for validation, policy and the audit
	// record: the only pass over the caller's map.
	if len(req.Attributes) <= maxAttributes {
		st.kvs, st.attrBytes = captureAttrs(st.kvs, req.Attributes)
	} else {
		st.kvs = append(st.kvs[:0], attrKV{Name: truncatedAttr, Value: true})
	}
	now, v, err := c.decideNow(ctx, req, st)
	if !st.valid {
		// Refused before validation (closed, audit stuck, a clock or
		// store that failed): the Decision, record and Observer keep no
		// credential passed as a name either. A valid request, the
		// common path, has been through it.
		_ = refuseCredentialNames(req)
	}
	id := c.ids.next(now)
	var latency time.Duration
	if c.latency {
		t, lerr := c.now()
		latency = t.Sub(now)
		if lerr != nil && err == nil {
			v, err = denied(reasonPanicked), lerr
		}
	}
	decision(d, id, req, st, &v, err)
	if aerr := c.record(ctx, req, d, now, latency, st); aerr != nil && err == nil {
		*d = Decision{ID: d.ID, Reason: reasonAuditDown}
		err = aerr
	}
	return now, err
}

// decision makes in d the Decision of a check's verdict: the one place a
// Decision is built. An error denies, whatever the verdict said.
func decision(d *Decision, id DecisionID, req *Request, st *checkState, v *verdict, err error) {
	// The hops are the caller's copy: st.cred.hops may be the cached
	// token's, which later checks and this check's record read.
	*d = Decision{
		ID: id, Effect: v.effect, Reason: v.reason, Rule: v.rule, ApprovalID: v.approvalID,
		AgentID: req.AgentID, CredentialID: st.cred.id, HopIDs: slices.Clone(st.cred.hops),
		VouchedBy: st.vouchedBy, Staleness: st.staleness,
	}
	if err != nil || !v.done {
		d.Effect, d.ApprovalID = Deny, ""
	}
}

// decideNow reads the clock and runs the phases (decide) under one
// recover, turning a panic of a part the client was given (the store,
// the clock, the random source) into a deny with an error: the check is
// still recorded, its counters brought down and its state returned, and
// later checks go on. So is a clock that tells a time no record can hold
// (see readClock); now is then the time package's, for the record. One
// deferred recover for both, which costs a check no allocation.
func (c *Client) decideNow(ctx context.Context, req *Request, st *checkState) (now time.Time, v verdict, err error) {
	defer func() {
		if p := recover(); p != nil {
			if now.IsZero() {
				now = time.Now()
			}
			v, err = denied(reasonPanicked), fmt.Errorf("%w: a check panicked with %s", errs.Panicked, panicText(p))
		}
	}()
	now = c.clock.Now()
	if !clockInRange(now) {
		told := now
		now = time.Now()
		return now, denied(reasonPanicked), fmt.Errorf("%w: the clock told %s, a time no record can hold", errs.Panicked, told.Format(time.RFC3339))
	}
	v, err = c.decide(ctx, req, now, st)
	return now, v, err
}

// recovered calls f, which calls a part the client was given (its store,
// clock, random source), turning a panic into an error matching
// ErrInvalidConfig (errs.Panicked) that names what: a panic in a
// goroutine of the client's would end the process, and one under an
// operator action would leave its record unanswered.
func recovered(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s panicked with %s", errs.Panicked, what, panicText(p))
		}
	}()
	return f()
}

// decide runs the phases before the audit, in order. Each returns its
// verdict and error; the first to fail or to decide ends the check,
// except that every decision of the rules (rate limits, policy,
// approval) passes the breaker, which may turn it into a deny.
func (c *Client) decide(ctx context.Context, req *Request, now time.Time, st *checkState) (verdict, error) {
	if c.closed.Load() {
		return denied(reasonClosed), ErrClosed
	}
	if !c.audit.healthy() {
		return denied(reasonAuditDown), fmt.Errorf("%w: audit writes failing for more than %s", ErrAuditUnavailable, c.audit.stuckAfter)
	}
	if err := c.validate(req, st); err != nil {
		v := denied(reasonInvalid)
		if req.Credential == "" && c.breaker == nil {
			return v, err
		}
		agent := c.deniedBy(ctx, req, now)
		if req.Credential != "" {
			// The decision and its record name who tried: the agent
			// the credential proves, or no one when it does not verify,
			// never the agent the request claims (as for an agent
			// mismatch).
			req.AgentID = agent
		}
		if c.breaker != nil && agent != "" && errors.Is(err, ErrInvalidRequest) {
			// A request refused as invalid (a resource climbing out with
			// "..", an invisible character in a name) is a denial its
			// agent caused, as an unevaluable condition is: probing with
			// them must trip the breaker too.
			v = c.trip(ctx, agent, now, v)
		}
		return v, err
	}
	// The request as caveats and policy conditions see it, built once;
	// the credential phase sets its agent and hops.
	env := requestEnv(c.tenant, req, st.kvs, nil, now)
	if req.Credential != "" {
		if err := c.identify(ctx, req, now, st, &env); err != nil {
			v := denied(reasonCredentialError)
			var ce *CaveatError
			if c.breaker != nil && errors.As(err, &ce) {
				// A request past its credential's own caveats (a
				// sub-agent narrowed to one tool asking for another) is a
				// denial its agent caused, counted when the credential is
				// otherwise good (see deniedBy).
				if agent := c.deniedBy(ctx, req, now); agent != "" {
					v = c.trip(ctx, agent, now, v)
				}
			}
			return v, err
		}
	}
	if v, err := c.revocation(ctx, req, now, st); err != nil || v.done {
		return v, err
	}
	ps := c.policy.Load()
	v, err := limit(ctx, ps, req.AgentID, req.Tool, now)
	if err != nil {
		return v, err
	}
	if !v.done {
		var res PolicyResult
		err := c.evaluatePolicy(ctx, ps, req, now, st, &env, &res)
		if c.shadow != nil {
			c.shadowCheck(ctx, req, now, st, &env, &res, err)
		}
		v = verdict{done: true, effect: res.Effect, rule: res.Rule, reason: res.Reason}
		if err != nil {
			if c.breaker != nil && errors.Is(err, ErrInvalidRequest) {
				// A deny the request brought on itself (a condition it
				// made unevaluable, a declared type it broke) is a
				// denial like any other; a failing engine is not the
				// agent's doing.
				v = c.trip(ctx, req.AgentID, now, v)
			}
			return v, err
		}
		if res.Effect == NeedsApproval {
			if v, err = c.resolveApproval(ctx, req, &res, now, st); err != nil {
				return v, err
			}
		}
	}
	if c.breaker != nil {
		v = c.trip(ctx, req.AgentID, now, v)
	}
	allowed := v.done && v.effect == Allow
	v, err = c.spendBudgets(ctx, req, now, st, &env, v)
	if c.breaker != nil && allowed && (err == nil && v.effect != Allow || errors.Is(err, ErrInvalidRequest)) {
		// A budget that refuses (spent, or an amount the request made
		// unreadable) is a denial like a rule's: an agent looping on it
		// must trip the breaker. A store without budgets or down is not
		// the agent's doing.
		v = c.tripOn(ctx, req.AgentID, now, v, false)
	}
	return v, err
}

// record is the audit phase: it queues the audit record of d. Every text
// is made storable (see storable.go), and the request's fields are
// clipped so a hostile request can neither bloat nor stop the trail; the
// attributes are made storable where the flusher encodes them
// (appendKVs).
//
// In durable mode it then waits until the record is written. If that
// fails, the check denies, and since the record may still be written
// later with the decision it held, a note records the withdrawal.
func (c *Client) record(ctx context.Context, req *Request, d *Decision, now time.Time, latency time.Duration, st *checkState) error {
	// Every text is made storable before the queue's lock is taken, which
	// begin holds until end: the flusher waits on that lock.
	agent, obo, session, tool, resource := clip(req.AgentID), req.OnBehalfOf, req.SessionID, req.Tool, req.Resource
	if !st.valid || len(resource) > maxFieldLen {
		// A request that passed validation has these storable as they
		// are: names, and a resource of valid UTF-8 without control
		// characters (which NFC may have lengthened).
		obo, session, tool, resource = clip(obo), clip(session), clip(tool), clip(resource)
		if strings.HasPrefix(tool, opPrefix) {
			// Refused by validation; recorded so that no decision can
			// pass for an operator action (see operator.go).
			tool = clip("refused:" + tool)
		}
	}
	// The hops from the credential, not d.HopIDs: the flusher reads them
	// after Check returns d to a caller free to change it.
	cred, hops, vouched := storable(d.CredentialID, noLimit), storableList(st.cred.hops), storable(d.VouchedBy, noLimit)
	reqID := req.RequestID
	if !st.valid {
		reqID = storable(reqID, maxRequestIDLen)
	}
	rule, reason, approval := storable(d.Rule, noLimit), storable(d.Reason, noLimit), storable(d.ApprovalID, noLimit)
	queued := st.attrBytes // the text of the attributes the queue holds
	if queued > maxAuditAttrBytes {
		st.kvs = queuedAttrs(st.kvs, st.attrBytes, c.audit.redact)
		queued = maxAuditAttrBytes
	}
	p, err := c.audit.begin(false)
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
	p.cred, p.hops, p.vouched, p.reqID = cred, hops, vouched, reqID
	p.effect = d.Effect
	p.rule, p.reason, p.approval = rule, reason, approval
	p.shadow = st.shadow
	ticket := c.audit.end(p, st.kvs, queued)
	if !c.audit.durable {
		return nil
	}
	err = c.audit.await(ctx, ticket)
	if err != nil && d.Effect != Deny {
		c.withdraw(d, reqID, now)
	}
	c.audit.inflight.Add(-1) // after the note: a closing drain waits for it
	return err
}

// withdraw queues a note that decision d, whose record could not be made
// durable in time, was answered with a deny instead.
func (c *Client) withdraw(d *Decision, reqID string, now time.Time) {
	p, err := c.audit.begin(true)
	if err != nil {
		// Full, or closed past its drain: the caller was denied either
		// way, and the record withdrawn is written only if the drain got
		// to it; say so where an operator looks.
		c.log.Error("agenttrust: a withdrawn decision could not be noted in the audit trail", "decision", d.ID.String(), "err", err)
		return
	}
	*p = pending{
		id:       c.ids.next(now),
		unixNano: now.UnixMicro() * 1000,
		agent:    clip(d.AgentID),
		reqID:    reqID,
		effect:   Deny,
		rule:     "agenttrust.audit_withdrawn",
		reason:   "decision " + d.ID.String() + " withdrawn: its audit record was not durable in time; the caller was denied",
	}
	c.audit.end(p, nil, 0)
}
