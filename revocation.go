package agenttrust

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// revocation is Check's revocation phase: one lookup for every id the
// request names (agent, session, credential, root key, hops), from the
// view in notify mode, else from the store. A suspended agent or
// session ends the check with a deny; a revocation, a suspended
// credential or a state that cannot be read is an error.
func (c *Client) revocation(ctx context.Context, req *Request, now time.Time, st *checkState) (verdict, error) {
	st.ids = append(st.ids[:0], req.AgentID)
	if req.SessionID != "" {
		st.ids = append(st.ids, req.SessionID)
	}
	if cr := &st.cred; cr.id != "" {
		st.ids = append(st.ids, cr.id)
		if cr.keyID != cr.id {
			st.ids = append(st.ids, cr.keyID)
		}
		st.ids = append(st.ids, cr.hops...)
	}
	var b store.Block
	var blocked bool
	if c.view != nil {
		var fresh bool
		b, blocked, st.staleness, fresh = c.view.lookup(c.clock, st.ids)
		if !fresh {
			return denied(reasonViewStale), c.view.staleErr(st.staleness)
		}
	} else {
		var err error
		b, blocked, err = c.store.Blocked(ctx, c.tenant, st.ids)
		if err != nil {
			return denied(reasonStoreDown), storeErr("revocation lookup", err)
		}
	}
	if !blocked {
		return verdict{}, nil
	}
	agent := b.ID == req.AgentID
	session := req.SessionID != "" && b.ID == req.SessionID
	if b.Kind == store.Revoked {
		reason := reasonCredentialRevoked
		switch {
		case agent:
			reason = reasonAgentRevoked
		case session:
			reason = reasonSessionRevoked
		}
		return denied(reason), fmt.Errorf("%w: %s", ErrRevoked, reason)
	}
	switch {
	case agent:
		return denied(reasonAgentSuspended), nil
	case session:
		return denied(reasonSessionSuspend), nil
	}
	return denied(reasonCredentialError), fmt.Errorf("%w: credential %s suspended", ErrSuspended, b.ID)
}

// refuseBlocked returns ErrRevoked or ErrSuspended, naming the id, when
// any of ids is blocked: the check of the operations around Check
// (Exchange, Delegate, Authenticate), which answer with errors.
func (c *Client) refuseBlocked(ctx context.Context, ids ...string) error {
	b, blocked, err := c.store.Blocked(ctx, c.tenant, ids)
	if err != nil {
		return storeErr("revocation lookup", err)
	}
	return blockedErr(b, blocked)
}

// refuseBlockedAt is refuseBlocked reading revocations as Check does: in
// notify mode from the view, refused with ErrStoreUnavailable once that
// is older than its bound; otherwise from the store.
func (c *Client) refuseBlockedAt(ctx context.Context, ids ...string) error {
	if c.view == nil {
		return c.refuseBlocked(ctx, ids...)
	}
	b, blocked, age, fresh := c.view.lookup(c.clock, ids)
	if !fresh {
		return c.view.staleErr(age)
	}
	return blockedErr(b, blocked)
}

func blockedErr(b store.Block, blocked bool) error {
	switch {
	case !blocked:
		return nil
	case b.Kind == store.Revoked:
		return fmt.Errorf("%w: %s", ErrRevoked, b.ID)
	}
	return fmt.Errorf("%w: %s", ErrSuspended, b.ID)
}

// Suspend is the kill switch: every check by agent or session id starts
// denying before Suspend returns, until Resume, on this client and, in
// strict mode, on every client sharing the store; in notify mode another
// client denies within its MaxStaleness. Ids share one namespace per
// tenant (see store.Block).
//
// Suspend, like every operator action (Resume, Revoke, Approve,
// DenyApproval, CreateKey, SavePolicy), is recorded in the client's
// audit chain before it takes effect, here with Tool "agenttrust.suspend",
// Resource id and Reason reason (a credential in it redacted, in the
// record and in the suspension stored); the actor is the caller the server
// authenticated, or nobody. When the audit is down the action is refused
// with an error matching ErrAuditUnavailable: see the "agenttrust."
// operations in operator.go.
func (c *Client) Suspend(ctx context.Context, id, reason string) error {
	if err := validID("id", id); err != nil {
		return err
	}
	if err := credentialAsID(id); err != nil {
		return err
	}
	// The reason is stored as its audit record keeps it: with any
	// credential pasted into it redacted.
	reason = redact.Credentials(reason)
	err := c.audited(ctx, operation{tool: opSuspend, resource: id, reason: reason}, func() error {
		b := store.Block{Tenant: c.tenant, ID: id, Kind: store.Suspended, Reason: reason, CreatedAt: c.clock.Now()}
		if err := c.store.Suspend(ctx, b); err != nil {
			return storeErr("suspend", err)
		}
		c.settleView(ctx, id, b)
		return nil
	})
	if err != nil {
		return err
	}
	c.event(ctx, observe.Event{Kind: observe.Suspended, Agent: id})
	return nil
}

// Resume lifts a suspension. It returns ErrNotFound if id is not
// suspended; a revocation of id stays in force. It is recorded in the
// audit chain as "agenttrust.resume" (see Suspend).
func (c *Client) Resume(ctx context.Context, id string) error {
	if err := credentialAsID(id); err != nil {
		return err
	}
	return c.audited(ctx, operation{tool: opResume, resource: id, reason: "resumed"}, func() error {
		if err := c.store.Resume(ctx, c.tenant, id); err != nil {
			if isNotFound(err) {
				return fmt.Errorf("%w: %q is not suspended", ErrNotFound, id)
			}
			// No answer is not a refusal: the store may have lifted the
			// suspension before its reply was lost. Reported and noted as
			// not performed, the agent would run again all the same. An
			// id no longer blocked is read back as resumed; one still
			// blocked, or unread, leaves the error.
			if !c.resumed(ctx, id) {
				return storeErr("resume", err)
			}
		}
		c.settleView(ctx, id, store.Block{})
		if c.breaker != nil {
			c.breaker.release(id)
		}
		return nil
	})
}

// resumed reads id's blocks back after a Resume that got no answer, and
// reports whether nothing blocks it any more. The read outlives ctx
// (which may be what ended the call), for a few seconds.
func (c *Client) resumed(ctx context.Context, id string) bool {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decisionReadBack)
	defer cancel()
	var blocked bool
	err := recovered("resume read back", func() (err error) {
		_, blocked, err = c.store.Blocked(rctx, c.tenant, []string{id})
		return err
	})
	return err == nil && !blocked
}

// credentialAsID refuses an id that holds an agenttrust credential. An
// operator who pastes a leaked key, token or JWT where its id belongs
// would block an id nothing carries, leaving the credential working, and
// write the credential into the audit trail and the store. The error
// does not quote it.
func credentialAsID(id string) error {
	if redact.MayHold(id) && redact.Credentials(id) != id {
		return fmt.Errorf("%w: the id holds a credential, not an id: give the credential's key id (key_...), token id (tok_...) or agent", ErrInvalidRequest)
	}
	return nil
}

// revocationHorizon is how far out a key's expiry may lie for its
// revocation to expire with it.
const revocationHorizon = 100 * 365 * 24 * time.Hour

// Revoke permanently blocks id: an agent, session, API key, token or
// delegation hop. It takes effect for every check that starts after it
// returns, on this client and, in strict mode, on every client sharing the
// store; in notify mode another client denies within its MaxStaleness.
//
// Revoking an API key kills every token derived from it; revoking a token
// or a delegation hop kills it and every token below it, while siblings
// live.
//
// A revocation outlives everything it covers, whatever the token TTLs and
// clocks of the nodes sharing the store. Ids share one namespace (a
// session may be called "tok_..."), a token id tells nothing of when the
// token was minted, and an agent, session or key without expiry has no
// end: so a revocation never expires, except that of a key the store
// knows, with an expiry. Every credential under such a key dies at the
// key's expiry (tokens never outlive their key), so the revocation's
// ExpiresAt is that expiry plus the JWT leeway, and PruneRevocations
// keeps it 48 hours longer still, so clocks that are off by less than that
// cannot lift it early. (A key expiring more than a century from now counts
// as one without expiry.)
//
// An id holding an API key, token or JWT itself is refused with
// ErrInvalidRequest: revoke the credential's key or token id.
//
// It is recorded in the audit chain as "agenttrust.revoke" (see Suspend).
func (c *Client) Revoke(ctx context.Context, id string) error {
	if err := validID("id", id); err != nil {
		return err
	}
	if err := credentialAsID(id); err != nil {
		return err
	}
	now, err := c.now()
	if err != nil {
		return err
	}
	b := store.Block{Tenant: c.tenant, ID: id, Kind: store.Revoked, Reason: "revoked", CreatedAt: now}
	if strings.HasPrefix(id, "key_") {
		var k store.Key
		err := recovered("key lookup", func() (err error) {
			k, err = c.store.Key(ctx, c.tenant, id)
			return err
		})
		if err != nil && !isNotFound(err) {
			return storeErr("revoke", err)
		}
		// A key expiring more than revocationHorizon from now is as good
		// as one without expiry, and so is its revocation: an expiry that
		// far out could, with the leeway, pass the last time a store
		// holds (SQLite's ends in 2262) and make the key unrevocable.
		if err == nil && !k.ExpiresAt.IsZero() && k.ExpiresAt.Before(now.Add(revocationHorizon)) {
			b.ExpiresAt = k.ExpiresAt.Add(jwtLeeway)
		}
	}
	err = c.audited(ctx, operation{tool: opRevoke, resource: id, reason: "revoked"}, func() error {
		// A grant is ended before its revocation is written: checks use
		// a grant without asking for revocations of its id, so a
		// revocation stored without the end (the link cut between the
		// two) would leave it allowing. Ended but not revoked, a failed
		// Revoke has stopped more than it says, never less.
		if strings.HasPrefix(id, grantPrefix) {
			if err := c.endGrant(ctx, id); err != nil {
				return storeErr("end grant", err)
			}
		}
		if err := c.store.Revoke(ctx, b); err != nil {
			return storeErr("revoke", err)
		}
		c.settleView(ctx, id, b)
		return nil
	})
	if err != nil {
		return err
	}
	// Once revoked, a budget's unspent carve-out goes back to its parent.
	// If this fails the carve-out stays reserved (less budget, never
	// more) and a second Revoke retries it.
	if err := c.releaseBudgets(ctx, id); err != nil {
		return err
	}
	c.event(ctx, observe.Event{Kind: observe.Revoked})
	return nil
}

// revocationSkew is how far the clocks of the nodes sharing a store may
// be off, together, before PruneRevocations could lift a revocation that
// still covers a live credential: a revocation is pruned only once its
// ExpiresAt lies this far in the past on the pruning node's clock.
const revocationSkew = 48 * time.Hour

// PruneRevocations removes revocations that can no longer affect
// anything, with 48 hours to spare for clock skew between nodes, and reports how many it
// removed. Only revocations of expiring keys ever qualify (see Revoke);
// those written by older versions with shorter expiries are kept
// 48 hours past them, longer than any token lives.
func (c *Client) PruneRevocations(ctx context.Context) (int, error) {
	// A clock that fails prunes nothing.
	now, err := c.now()
	if err != nil {
		return 0, err
	}
	var n int
	err = recovered("prune revocations", func() (err error) {
		n, err = c.store.PruneRevocations(ctx, now.Add(-revocationSkew))
		return err
	})
	if err != nil {
		return 0, storeErr("prune revocations", err)
	}
	return n, nil
}
