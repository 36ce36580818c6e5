package agenttrust

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/store"
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

// loadCredential parses and verifies a credential of any kind into cr. For
// an API key it also returns the key's roles, known without a store read.
func (c *Client) loadCredential(ctx context.Context, s string, now time.Time, cr *credential) (roles []string, err error) {
	if len(s) > MaxCredentialSize {
		return nil, ErrCredentialTooLarge
	}
	switch {
	case strings.HasPrefix(s, KeyPrefix):
		ke, err := c.lookupKey(ctx, s, now)
		if err != nil {
			return nil, err
		}
		*cr = credential{id: ke.key.ID, keyID: ke.key.ID, agent: ke.key.AgentID, conds: ke.conds, prefixes: ke.prefixes, expires: ke.key.ExpiresAt}
		return ke.key.Roles, nil
	case strings.HasPrefix(s, TokenPrefix):
		v, err := c.decodeToken(s)
		if err != nil {
			return nil, err
		}
		if v.tenant != c.tenant {
			// A token of another tenant proves nothing here.
			return nil, ErrBadSignature
		}
		*cr = credential{id: v.id, keyID: v.keyID, agent: v.agent, hops: v.hops, conds: v.conds, expires: v.expires}
	case looksLikeJWT(s):
		if err := c.verifyJWT(s, now, cr); err != nil {
			return nil, err
		}
	default:
		return nil, ErrUnsupportedCredential
	}
	return nil, nil
}

// live checks what every use of a credential must satisfy whatever the
// action: its lifetime and its key's IP allowlist.
func (cr *credential) live(now time.Time, addr netip.Addr) error {
	if !cr.expires.IsZero() && !now.Before(cr.expires) {
		return ErrExpired
	}
	if len(cr.prefixes) == 0 {
		return nil
	}
	if ip := addr.Unmap(); ip.IsValid() {
		for _, p := range cr.prefixes {
			if p.Contains(ip) {
				return nil
			}
		}
	}
	return ErrIPNotAllowed
}

// verifyCredential is phase 1: parse and verify the credential, establish
// who is acting and check every caveat against the request. Revocation of
// the ids it yields is phase 2.
func (c *Client) verifyCredential(ctx context.Context, req *Request, now time.Time, cr *credential) error {
	if _, err := c.loadCredential(ctx, req.Credential, now, cr); err != nil {
		return err
	}
	if req.AgentID == "" {
		req.AgentID = cr.agent
	} else if req.AgentID != cr.agent {
		return ErrAgentMismatch
	}
	if err := cr.live(now, req.RemoteAddr); err != nil {
		return err
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

// Principal is who a credential proves the caller to be.
type Principal struct {
	Tenant       string
	AgentID      string
	KeyID        string   // the API key at the root of the credential
	CredentialID string   // the key or token id
	HopIDs       []string // delegation hops, oldest first
	// Roles are what the credential may do on the server's API: its root
	// key's roles, except that a narrowed credential holds at most the
	// agent role (see Narrowed).
	Roles []string
	// Caveats are the credential's caveats that bind actions (tool,
	// resource, session, on_behalf_of, attributes), in canonical text.
	// Caveats on who and when (agent, tenant, ip, expires, hop) are not
	// listed: Authenticate has already enforced them.
	Caveats []string
}

// HasRole reports whether p holds role.
func (p Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Narrowed reports whether the credential is narrowed: it carries a
// caveat that binds actions, or it was delegated. Such a credential acts
// only as an agent, within its caveats: an admin or approver role of its
// root key does not pass to it, because work on the API (making keys,
// revoking, deciding approvals) has no tool or resource a caveat could
// bound.
func (p Principal) Narrowed() bool { return len(p.Caveats) > 0 || len(p.HopIDs) > 0 }

// Permits reports whether req, an action asked for by the holder of p's
// credential, lies within the credential's caveats: a *CaveatError naming
// the first caveat that does not hold, or nil. A server uses it when a
// narrowed caller asks about an action that is not checked with its own
// credential (it checks another's, or reads an approval). Only action
// caveats are evaluated; req.AgentID is not compared.
func (p Principal) Permits(req Request) error {
	if len(p.Caveats) == 0 {
		return nil
	}
	env := cond.Env{Agent: p.AgentID, Tenant: p.Tenant, Attributes: req.Attributes, Hops: p.HopIDs}
	var err error
	for _, f := range [...]struct {
		name string
		dst  *string
		src  string
		max  int
	}{
		{"tool", &env.Tool, req.Tool, 256}, {"resource", &env.Resource, req.Resource, maxFieldLen},
		{"session id", &env.Session, req.SessionID, 256}, {"on_behalf_of", &env.OnBehalfOf, req.OnBehalfOf, 256},
	} {
		if *f.dst, err = normText(f.name, f.src, f.max); err != nil {
			return err
		}
	}
	for _, s := range p.Caveats {
		cv, err := cond.Parse(s)
		if err != nil {
			return &CaveatError{Caveat: s, Msg: err.Error()}
		}
		if !actionCaveat(cv.Field) || !cv.Eval(&env) {
			return &CaveatError{Caveat: s, Msg: "does not hold for this request"}
		}
	}
	return nil
}

// actionCaveat reports whether a caveat on field binds actions rather
// than the caller (agent, tenant), its address or its lifetime, which
// hold or fail whatever the caller does.
func actionCaveat(f cond.Field) bool {
	switch f {
	case cond.FieldAgent, cond.FieldTenant, cond.FieldIP, cond.FieldExpires, cond.FieldHop:
		return false
	}
	return true
}

// narrowRoles returns what a narrowed credential keeps of its root key's
// roles: the agent role, if the key has it (admin includes it), no other.
func narrowRoles(roles []string) []string {
	for _, r := range roles {
		if r == RoleAgent || r == RoleAdmin {
			return []string{RoleAgent}
		}
	}
	return nil
}

// checkKeyRoles refuses an admin or approver key with a caveat that binds
// actions: it could never use those roles (see Principal.Narrowed).
func checkKeyRoles(roles, caveats []string) error {
	wide := false
	for _, r := range roles {
		wide = wide || r == RoleAdmin || r == RoleApprover
	}
	if !wide {
		return nil
	}
	for _, s := range caveats {
		if cv, err := cond.Parse(s); err != nil || actionCaveat(cv.Field) {
			return fmt.Errorf("%w: caveat %q", ErrNarrowedRole, s)
		}
	}
	return nil
}

// Authenticate verifies a credential (API key, token or JWT) as phase 1
// and 2 of Check would, without a tool or policy: signature, expiry, IP
// allowlist against remoteAddr, caveats that do not depend on the action,
// and revocation or suspension of every id it carries, read as Check reads
// it (in notify mode from the view). It is for servers that must know who
// is calling before they know what the call is. The Principal lists the
// caveats that bind actions; a credential that has any, or was delegated,
// holds at most the agent role. The Principal is the caller's own copy.
func (c *Client) Authenticate(ctx context.Context, cred string, remoteAddr netip.Addr) (Principal, error) {
	if c.closed.Load() {
		return Principal{}, ErrClosed
	}
	now := c.clock.Now()
	var cr credential
	roles, err := c.loadCredential(ctx, cred, now, &cr)
	if err != nil {
		return Principal{}, err
	}
	if err := cr.live(now, remoteAddr); err != nil {
		return Principal{}, err
	}
	var caveats []string
	env := cond.Env{Agent: cr.agent, Tenant: c.tenant, IP: remoteAddr, Now: now, Hops: cr.hops}
	for i := range cr.conds {
		cv := &cr.conds[i]
		if actionCaveat(cv.Field) {
			caveats = append(caveats, cv.String())
			continue
		}
		if !cv.Eval(&env) {
			if cv.Field == cond.FieldIP {
				return Principal{}, ErrIPNotAllowed
			}
			return Principal{}, &CaveatError{Caveat: cv.String(), Msg: "does not hold for this caller"}
		}
	}
	if err := c.refuseBlockedAt(ctx, now, append([]string{cr.agent, cr.id, cr.keyID}, cr.hops...)...); err != nil {
		return Principal{}, err
	}
	if roles == nil {
		// A token's roles are its root key's. Keys never change once
		// made (revoking one is a block, checked above), so they are
		// cached by id.
		var ok bool
		if roles, ok = c.rootKeys.get(cr.keyID); !ok {
			k, err := c.store.Key(ctx, c.tenant, cr.keyID)
			if err != nil {
				if isNotFound(err) {
					return Principal{}, ErrUnknownKey
				}
				return Principal{}, storeErr("key lookup", err)
			}
			roles = k.Roles
			c.rootKeys.put(cr.keyID, roles)
		}
	}
	// The caller's copy: the cached slices are shared.
	p := Principal{Tenant: c.tenant, AgentID: cr.agent, KeyID: cr.keyID, CredentialID: cr.id, HopIDs: slices.Clone(cr.hops), Caveats: caveats}
	if p.Narrowed() {
		p.Roles = narrowRoles(roles)
	} else {
		p.Roles = slices.Clone(roles)
	}
	return p, nil
}

// CredentialTenantUnverified returns the tenant a credential claims,
// without verifying anything: an API key's tenant comes from the store,
// a token's or JWT's from its own unverified contents. A multi-tenant
// server uses it to pick the tenant's Client, which then authenticates
// the credential for real.
func CredentialTenantUnverified(ctx context.Context, st store.Keys, cred string) (string, error) {
	switch {
	case len(cred) > MaxCredentialSize:
		return "", ErrCredentialTooLarge
	case strings.HasPrefix(cred, KeyPrefix):
		k, err := apikey.Parse(cred)
		if err != nil {
			if errors.Is(err, apikey.ErrChecksum) {
				return "", ErrKeyChecksum
			}
			return "", ErrMalformedCredential
		}
		stored, err := st.KeyByHash(ctx, k.Hash())
		if isNotFound(err) {
			return "", ErrUnknownKey
		}
		if err != nil {
			return "", storeErr("key lookup", err)
		}
		return stored.Tenant, nil
	case strings.HasPrefix(cred, TokenPrefix):
		info, err := InspectTokenUnverified(cred)
		if err != nil {
			return "", err
		}
		return info.Tenant, nil
	case looksLikeJWT(cred):
		var claims jwtClaims
		if _, _, err := new(jwt.Parser).ParseUnverified(cred, &claims); err != nil {
			return "", ErrMalformedCredential
		}
		return claims.Tenant, nil
	}
	return "", ErrUnsupportedCredential
}
