package agenttrust

import (
	"context"
	"fmt"
	"time"

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
		b, blocked, st.staleness, fresh = c.view.lookup(now, st.ids)
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
func (c *Client) refuseBlockedAt(ctx context.Context, now time.Time, ids ...string) error {
	if c.view == nil {
		return c.refuseBlocked(ctx, ids...)
	}
	b, blocked, age, fresh := c.view.lookup(now, ids)
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
