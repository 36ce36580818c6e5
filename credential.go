package agenttrust

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
)

// credential is what phase 1 established about a request's credential.
type credential struct {
	id       string // key or token id
	keyID    string // the API key at the root
	agent    string
	hops     []string
	conds    []cond.Cond
	prefixes []netip.Prefix
	expires  time.Time // zero: none
}

// verifyCredential is phase 1: parse and verify the credential, establish
// who is acting and check every caveat against the request. Revocation of
// the ids it yields is phase 2.
func (c *Client) verifyCredential(ctx context.Context, req *Request, now time.Time, cr *credential) error {
	s := req.Credential
	if len(s) > MaxCredentialSize {
		return ErrCredentialTooLarge
	}
	switch {
	case strings.HasPrefix(s, KeyPrefix):
		ke, err := c.lookupKey(ctx, s, now)
		if err != nil {
			return err
		}
		*cr = credential{id: ke.key.ID, keyID: ke.key.ID, agent: ke.key.AgentID, conds: ke.conds, prefixes: ke.prefixes, expires: ke.key.ExpiresAt}
	case strings.HasPrefix(s, TokenPrefix):
		v, err := c.decodeToken(s)
		if err != nil {
			return err
		}
		if v.tenant != c.tenant {
			// A token of another tenant proves nothing here.
			return ErrBadSignature
		}
		*cr = credential{id: v.id, keyID: v.keyID, agent: v.agent, hops: v.hops, conds: v.conds, expires: v.expires}
	case looksLikeJWT(s):
		if err := c.verifyJWT(s, now, cr); err != nil {
			return err
		}
	default:
		return ErrUnsupportedCredential
	}
	if req.AgentID == "" {
		req.AgentID = cr.agent
	} else if req.AgentID != cr.agent {
		return ErrAgentMismatch
	}
	if !cr.expires.IsZero() && !now.Before(cr.expires) {
		return ErrExpired
	}
	if len(cr.prefixes) > 0 {
		ip := req.RemoteAddr.Unmap()
		ok := false
		for _, p := range cr.prefixes {
			if ip.IsValid() && p.Contains(ip) {
				ok = true
				break
			}
		}
		if !ok {
			return ErrIPNotAllowed
		}
	}
	env := cond.Env{
		Agent: req.AgentID, Tool: req.Tool, Resource: req.Resource, Session: req.SessionID,
		OnBehalfOf: req.OnBehalfOf, Tenant: c.tenant, Attributes: req.Attributes,
		IP: req.RemoteAddr, Now: now, Hops: cr.hops,
	}
	for i := range cr.conds {
		cv := &cr.conds[i]
		if cv.Eval(&env) {
			continue
		}
		switch cv.Field {
		case cond.FieldIP:
			return fmt.Errorf("%w (caveat %q)", ErrIPNotAllowed, cv.String())
		case cond.FieldExpires:
			return ErrExpired
		}
		return &CaveatError{Caveat: cv.String(), Msg: "does not hold for this request"}
	}
	return nil
}
