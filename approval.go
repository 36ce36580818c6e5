package agenttrust

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// fingerprint binds an approval to exactly one request and to all the
// approver is shown of it: tenant, agent, tool, resource, session,
// on-behalf-of, the rule that asked (its id, reason and approvers, and
// its approval timeout when it has one, so that an approval opened
// before the timeout was set or shortened is not handed out again as
// one the rule bounds) and the full canonical attributes (not redacted:
// a different amount is a different request). Each part is
// length-prefixed or marked, so no two requests share an encoding.
func (c *Client) fingerprint(req *Request, res *PolicyResult, st *checkState) string {
	h := sha256.New()
	for _, s := range [...]string{"agenttrust-approval-v2", c.tenant, req.AgentID, req.Tool, req.Resource, req.SessionID, req.OnBehalfOf, res.Rule, res.Reason} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	fmt.Fprintf(h, "%d:", len(res.Approvers))
	for _, s := range res.Approvers {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	if res.ApprovalTimeout > 0 {
		// Marked by 't': the attributes that follow begin with '{'.
		fmt.Fprintf(h, "t%d;", int64(res.ApprovalTimeout))
	}
	st.fp = appendKVs(st.fp[:0], st.kvs, nil)
	h.Write(st.fp)
	return hex.EncodeToString(h.Sum(nil))
}

// resolveApproval is the approval phase, for a request the policy (res)
// says needs approval: a granted approval for this exact request is
// consumed and the request allowed, once; otherwise the request waits on
// a pending approval, new or already open.
func (c *Client) resolveApproval(ctx context.Context, req *Request, res *PolicyResult, now time.Time, st *checkState) (verdict, error) {
	v := verdict{done: true, effect: NeedsApproval, rule: res.Rule, reason: res.Reason}
	down := verdict{done: true, rule: res.Rule, reason: reasonStoreDown}
	fp := c.fingerprint(req, res, st)
	a, err := c.store.ConsumeApproval(ctx, c.tenant, fp, now)
	switch {
	case err == nil:
		// An approval is its approver's word, as a grant is: one whose
		// approver, or the API key it approved with, was stopped since
		// (approverStands) is used up allowing nothing, and the request
		// is asked again.
		switch stands, err := c.approverStands(ctx, a.DecidedBy, a.DecidedByKey, a.DecidedByCredentials, now, ""); {
		case err != nil:
			return down, err
		case stands:
			v.effect, v.approvalID, v.reason = Allow, a.ID, "approved by "+a.DecidedBy
			return v, nil
		}
		c.voidApproval(ctx, &a)
	case !isNotFound(err):
		return down, storeErr("consume approval", err)
	}
	switch g, err := c.useGrant(ctx, req, res, now); {
	case err == nil:
		v.effect, v.approvalID, v.reason = Allow, g.ID, "remembered approval by "+g.CreatedBy
		return v, nil
	case !errors.Is(err, errs.ApprovalNotFound):
		return down, storeErr("use grant", err)
	}
	// Identical checks at once must not each open an approval: between
	// finding none pending and creating one, another would find none
	// too. Checks of one fingerprint take turns on this client (across
	// clients sharing a store, two may still open one each).
	turn := c.approvalTurns[approvalStripe(fp)]
	select {
	case <-turn:
	case <-ctx.Done():
		return down, storeErr("find approval", ctx.Err())
	}
	defer func() { turn <- struct{}{} }()
	if a, err := c.store.PendingApproval(ctx, c.tenant, fp, now); err == nil {
		v.approvalID = a.ID
		return v, nil
	} else if !isNotFound(err) {
		return down, storeErr("find approval", err)
	}
	attrs := appendKVs(nil, st.kvs, &c.redact)
	if len(attrs) > maxApprovalAttrBytes {
		return verdict{done: true, rule: res.Rule, reason: reasonApprovalTooLarge}, nil
	}
	id, err := c.newID("apr_")
	if err != nil {
		return down, err
	}
	expires := now.Add(pendingTTL(c.pendingTTL, res.ApprovalTimeout))
	if !c.open.take(req.AgentID, id, expires, now) {
		return verdict{done: true, rule: res.Rule, reason: reasonTooManyApprovals}, nil
	}
	a = Approval{
		ID: id, Tenant: c.tenant, Fingerprint: fp,
		AgentID: req.AgentID, SessionID: req.SessionID, OnBehalfOf: req.OnBehalfOf,
		Tool: req.Tool, Resource: req.Resource,
		Attributes: attrs,
		Rule:       res.Rule, Reason: res.Reason, Approvers: append([]string(nil), res.Approvers...),
		Status: ApprovalPending, CreatedAt: now, ExpiresAt: expires,
	}
	// A panic of the store is its failure: the approval is not counted.
	if err := recovered("create approval", func() error { return c.store.CreateApproval(ctx, a) }); err != nil {
		c.open.drop(req.AgentID, id)
		return down, storeErr("create approval", err)
	}
	v.approvalID = a.ID
	c.event(ctx, observe.Event{Kind: observe.ApprovalOpened, Agent: a.AgentID, Tool: a.Tool})
	if c.notifier != nil {
		go func() {
			nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			// A panic on this goroutine would end the process.
			defer func() {
				if p := recover(); p != nil {
					c.log.Error("agenttrust: approval notifier panicked", "approval", a.ID, "panic", panicText(p))
				}
			}()
			if err := c.notifier.Notify(nctx, a); err != nil {
				c.log.Warn("agenttrust: approval notifier failed", "approval", a.ID, "err", err)
			}
		}()
	}
	return v, nil
}

// maxOpenApprovals is how many pending approvals one agent may hold open
// (undecided and not lapsed) in a tenant: each is a stored row, a
// notification and a line in every approver's queue. A check that would
// open one more is denied.
const maxOpenApprovals = 100

// maxApprovalAttrBytes bounds the attributes an approval keeps (their
// redacted canonical JSON): an approval stores them whole, since it binds
// them, and every list of approvals carries them. A request that would
// open an approval with more is denied.
const maxApprovalAttrBytes = 64 << 10

// reasonApprovalTooLarge is the reason of a check denied because the
// approval it would open holds more than maxApprovalAttrBytes.
const reasonApprovalTooLarge = "attributes too large for an approval"

// reasonTooManyApprovals is the reason of a check denied because its
// agent holds maxOpenApprovals open already.
const reasonTooManyApprovals = "too many open approvals for this agent"

// maxOpenTracked bounds the approvals an openApprovalSet holds, across
// all agents.
const maxOpenTracked = 1 << 16

// openApprovalSet holds, per agent, the approvals this client opened that
// are open as far as it knows: until they lapse, or it decides them. It
// is counted here rather than in the store, where lapsed approvals stay
// pending for ever: counting them there would read every one an agent
// ever let lapse, each time it asked for another. Approvals decided by
// another client sharing the store still count here until they lapse, and
// a client started afresh counts none: the cap errs on the side of
// refusing, and is per client.
type openApprovalSet struct {
	mu    sync.Mutex
	m     map[string]map[string]time.Time // agent -> approval id -> expires
	n     int                             // approvals held, across agents
	swept time.Time                       // when lapsed ones were last dropped everywhere
}

// take records approval id of agent, open until expires, unless the agent
// holds maxOpenApprovals open at now already or the set is full.
func (o *openApprovalSet) take(agent, id string, expires, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := o.m[agent]
	o.lapse(agent, ids, now)
	if len(ids) >= maxOpenApprovals {
		return false
	}
	if o.n >= maxOpenTracked && now.Sub(o.swept) >= time.Second {
		o.swept = now
		for a, x := range o.m {
			o.lapse(a, x, now)
		}
	}
	if o.n >= maxOpenTracked {
		return false
	}
	if o.m == nil {
		o.m = map[string]map[string]time.Time{}
	}
	if len(ids) == 0 {
		ids = map[string]time.Time{}
		o.m[agent] = ids
	}
	ids[id] = expires
	o.n++
	return true
}

// lapse drops the approvals of agent (ids) that have lapsed at now, and
// the agent when none is left. o.mu is held.
func (o *openApprovalSet) lapse(agent string, ids map[string]time.Time, now time.Time) {
	for id, exp := range ids {
		if !now.Before(exp) {
			delete(ids, id)
			o.n--
		}
	}
	if ids != nil && len(ids) == 0 {
		delete(o.m, agent)
	}
}

// holdsState reports whether an approval counted here has not lapsed
// at now: a new set, counting none, would let its agent open more.
func (o *openApprovalSet) holdsState(now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ids := range o.m {
		for _, exp := range ids {
			if now.Before(exp) {
				return true
			}
		}
	}
	return false
}

// drop forgets approval id of agent: decided, or never stored.
func (o *openApprovalSet) drop(agent, id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ids, ok := o.m[agent]; ok {
		if _, ok := ids[id]; ok {
			delete(ids, id)
			o.n--
		}
		if len(ids) == 0 {
			delete(o.m, agent)
		}
	}
}

// approvalStripes is how many turns the fingerprints of pending
// approvals share (Client.approvalTurns).
const approvalStripes = 32

func newApprovalTurns() (t [approvalStripes]chan struct{}) {
	for i := range t {
		t[i] = make(chan struct{}, 1)
		t[i] <- struct{}{}
	}
	return t
}

// approvalStripe picks the lock of fingerprint fp (hex of a SHA-256).
func approvalStripe(fp string) int {
	if len(fp) < 2 {
		return 0
	}
	hexVal := func(b byte) int {
		switch {
		case b >= '0' && b <= '9':
			return int(b - '0')
		case b >= 'a' && b <= 'f':
			return int(b-'a') + 10
		}
		return 0
	}
	return (hexVal(fp[0])<<4 | hexVal(fp[1])) % approvalStripes
}

// pendingTTL is how long a new approval stays pending: the client's TTL,
// or the rule's approval timeout when that is shorter.
func pendingTTL(client, rule time.Duration) time.Duration {
	if rule > 0 && rule < client {
		return rule
	}
	return client
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix + 26 characters of base32 randomness (128 bits).
func (c *Client) newID(prefix string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(c.random, b[:]); err != nil {
		return "", fmt.Errorf("agenttrust: read random source: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b[:]), nil
}

// Approve grants a pending approval: the same request, checked again
// within the grant TTL, is allowed once, while approver, and the API key
// it approved with when the server authenticated it by one, are neither
// suspended nor revoked (nor the key expired), and until DenyApproval
// withdraws it. approver must differ from the agent that asked and, when
// the rule names approvers, match one of them.
// It is recorded in the audit chain as "agenttrust.approve" (see
// Suspend), with the note as the record's Reason. A credential in the
// note is redacted, in the record and in the approval stored.
func (c *Client) Approve(ctx context.Context, id, approver, note string) error {
	return c.decideApproval(ctx, id, approver, note, ApprovalApproved)
}

// DenyApproval refuses a pending approval; the request stays denied and a
// new check of it opens a new approval. It is recorded in the audit
// chain as "agenttrust.deny_approval" (see Suspend).
//
// An approval already approved but not yet used is withdrawn: denied, so
// that its request is asked again, and a grant made with it (see
// ApproveAndRemember) allows nothing more. Of a withdrawal and the check
// that would use the approval exactly one wins: a withdrawal that comes
// second fails with an error matching ErrConflict, and is noted in the
// audit chain as not performed, beside the check's allow. A withdrawal
// is recorded as "agenttrust.withdraw_approval". Whoever may decide the
// approval may withdraw it. The store must implement store.Withdrawer;
// on one that does not, an approved approval stays usable, and the error
// matches ErrConflict.
func (c *Client) DenyApproval(ctx context.Context, id, approver, note string) error {
	return c.decideApproval(ctx, id, approver, note, ApprovalDenied)
}

func (c *Client) decideApproval(ctx context.Context, id, approver, note string, status store.ApprovalStatus) error {
	if err := validID("approver", approver); err != nil {
		return err
	}
	if err := refuseCredential("approver", approver); err != nil {
		return err
	}
	if err := validText("note", note, 4096); err != nil {
		return err
	}
	// The note is kept as its audit record keeps it: a credential
	// pasted into it is redacted before the store holds it, so that
	// whoever may read the approval (its agent too) never reads one.
	note = redact.Credentials(note)
	a, err := c.Approval(ctx, id)
	if err != nil {
		return err
	}
	if approver == a.AgentID {
		return fmt.Errorf("%w: an agent cannot decide its own request", errs.ApproverNotAllowed)
	}
	if len(a.Approvers) > 0 {
		ok := false
		for _, pat := range a.Approvers {
			if p, err := cond.ParsePattern(pat); err == nil && p.Match(approver) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: %q is not among the approvers of rule %q", errs.ApproverNotAllowed, approver, a.Rule)
		}
	}
	op := operation{tool: opApprove, resource: id, approval: id, reason: note, kvs: []attrKV{{Name: "approver", Value: approver}}}
	withdraw := status == ApprovalDenied && a.Status == ApprovalApproved
	switch {
	case withdraw:
		op.tool = opWithdrawApproval
	case status == ApprovalDenied:
		op.tool = opDenyApproval
	}
	ws, canWithdraw := c.store.(store.Withdrawer)
	if withdraw && !canWithdraw {
		return fmt.Errorf("%w: %s is approved, and the store cannot withdraw an approval (store.Withdrawer)", errs.ApprovalResolved, id)
	}
	err = c.audited(ctx, op, func() error {
		now := c.clock.Now()
		// ByKey: the key the server authenticated the decider by, and
		// ByCredentials the token or JWT (and hops) derived from it
		// that the decider presented, which an approval allows no
		// longer than (approverStands).
		who := actor.From(ctx)
		d := store.ApprovalDecision{Status: status, By: approver, ByKey: who.KeyID, ByCredentials: slices.Clone(who.Credentials), Note: note, At: now, GrantExpiresAt: now.Add(c.grantTTL)}
		var err error
		if withdraw {
			d.GrantExpiresAt = time.Time{}
			_, err = ws.WithdrawApproval(ctx, c.tenant, id, d)
		} else {
			_, err = c.store.DecideApproval(ctx, c.tenant, id, d)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, store.ErrConflict):
			return fmt.Errorf("%w: %s", errs.ApprovalResolved, id)
		case isNotFound(err):
			return fmt.Errorf("%w: %s", errs.ApprovalNotFound, id)
		}
		// No answer is not a refusal: the store may have committed the
		// decision before its reply was lost (a link cut, ctx ended on
		// the way back). Reported and noted as not performed, an
		// approval would then let the request through all the same.
		switch stands, rerr := c.decisionStands(ctx, id, &d); {
		case stands:
			return nil
		case rerr != nil:
			return fmt.Errorf("%w (whether approval %s was decided is unknown: %v)", storeErr("decide approval", err), id, rerr)
		}
		return storeErr("decide approval", err)
	})
	if err != nil {
		return err
	}
	c.open.drop(a.AgentID, id)
	c.event(ctx, observe.Event{Kind: observe.ApprovalDecided, Agent: approver, Outcome: string(status)})
	c.approvalMu.Lock()
	close(c.approvalsChanged)
	c.approvalsChanged = make(chan struct{})
	c.approvalMu.Unlock()
	return nil
}

// voidApproval records that approval a, just consumed, allowed nothing
// (its approver stopped): denied, its note saying why, not consumed as
// if it had let its request through. The request is asked again either
// way; a store without store.Voider, or one failing, leaves it consumed.
func (c *Client) voidApproval(ctx context.Context, a *Approval) {
	vs, ok := c.store.(store.Voider)
	if !ok {
		return
	}
	note := "allowed nothing: approver " + a.DecidedBy + ", or the credential it approved with, was stopped before the request came back"
	if a.Note != "" {
		note += "; approved with the note: " + a.Note
	}
	if err := recovered("void approval", func() error {
		_, err := vs.VoidApproval(ctx, c.tenant, a.ID, note)
		return err
	}); err != nil {
		c.log.Warn("agenttrust: approval of a stopped approver left consumed", "approval", a.ID, "err", err)
	}
}

// decisionStands reads approval id back after a DecideApproval that got
// no answer, and reports whether it holds decision d: this one, not
// another decider's. An approval consumed since holds it too: the
// request it was waiting for used it, so the approval took effect. The
// read outlives ctx (which may be what ended the call), for a few
// seconds.
func (c *Client) decisionStands(ctx context.Context, id string, d *store.ApprovalDecision) (bool, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decisionReadBack)
	defer cancel()
	a, err := c.store.Approval(rctx, c.tenant, id)
	if err != nil {
		return false, err
	}
	status := a.Status == d.Status || a.Status == ApprovalConsumed && d.Status == ApprovalApproved
	return status && a.DecidedBy == d.By && a.Note == d.Note && a.DecidedAt.Equal(d.At), nil
}

// decisionReadBack bounds the read of an approval whose decision got no
// answer from the store.
const decisionReadBack = 5 * time.Second

// Approval returns one approval of this client's tenant.
func (c *Client) Approval(ctx context.Context, id string) (Approval, error) {
	if err := validID("approval id", id); err != nil {
		return Approval{}, err
	}
	a, err := c.store.Approval(ctx, c.tenant, id)
	if isNotFound(err) {
		return Approval{}, fmt.Errorf("%w: %s", errs.ApprovalNotFound, id)
	}
	if err != nil {
		return Approval{}, storeErr("get approval", err)
	}
	return a, nil
}

// Approvals lists approvals of this client's tenant matching f (its Tenant
// field is ignored).
func (c *Client) Approvals(ctx context.Context, f ApprovalFilter) ([]Approval, error) {
	f.Tenant = c.tenant
	as, err := c.store.Approvals(ctx, f)
	if err != nil {
		return nil, storeErr("list approvals", err)
	}
	return as, nil
}

// approvalPoll is how often WaitApproval looks at the store for decisions
// made by other clients sharing it.
const approvalPoll = 250 * time.Millisecond

// WaitApproval blocks until approval id is decided or lapses, or ctx ends,
// and returns it. A lapsed approval returns an error matching ErrConflict.
// Decisions made through this client wake it at once; decisions made
// elsewhere are seen within a quarter of a second.
func (c *Client) WaitApproval(ctx context.Context, id string) (Approval, error) {
	for {
		c.approvalMu.Lock()
		changed := c.approvalsChanged
		c.approvalMu.Unlock()
		a, err := c.Approval(ctx, id)
		if err != nil {
			return Approval{}, err
		}
		if a.Status != ApprovalPending {
			return a, nil
		}
		now, err := c.now()
		if err != nil {
			return a, err
		}
		if !now.Before(a.ExpiresAt) {
			return a, fmt.Errorf("%w: approval %s lapsed undecided", errs.ApprovalResolved, id)
		}
		t := time.NewTimer(approvalPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return a, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}
