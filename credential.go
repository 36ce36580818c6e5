package agenttrust

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
)

// credential is what verification established about a credential.
type credential struct {
	id       string // key or token id
	keyID    string // the API key at the root
	agent    string
	hops     []string
	conds    []cond.Cond
	prefixes []netip.Prefix
	expires  time.Time // zero: none
	key      *keyEntry // the API key itself, when the credential is one
	// master is the master key that minted the token at the root of a
	// token, or of a JWT made from one; empty for an API key.
	master string
}

// credentialKinds is a set of credential forms.
type credentialKinds uint8

const (
	apiKeys credentialKinds = 1 << iota
	tokens
	jwts
	anyCredential = apiKeys | tokens | jwts
)

// blockRead says where a use of a credential reads the revocations and
// suspensions of its ids.
type blockRead uint8

const (
	// blocksLater: not here. Check reads them in its revocation phase,
	// with the request's agent and session, in one lookup.
	blocksLater blockRead = iota
	// blocksAsCheck: as Check reads them, from the view in notify mode
	// (refused once it is older than its bound), else from the store.
	blocksAsCheck
	// blocksFromStore: from the store whatever the mode, before a
	// credential is made from this one.
	blocksFromStore
)

// credentialUse is what one use of a credential must prove besides its
// signature, its tenant and its lifetime, which every use proves.
type credentialUse struct {
	kinds credentialKinds // the forms accepted
	// agent is the agent the caller says it is, if it says: the
	// credential must name it.
	agent string
	// addr is held to the credential's IP allowlist, unless anyAddr: a
	// credential made from this one carries the allowlist to its own
	// uses.
	addr    netip.Addr
	anyAddr bool
	// env, when set, is what the caveats are held to, once its agent and
	// hops are the credential's: every caveat when actions is set,
	// otherwise only those that do not bind actions.
	env     *cond.Env
	actions bool
	blocks  blockRead
}

// verify is the one credential verifier, behind Check, Authenticate,
// Delegate and Exchange. It parses and verifies s (signature, tenant),
// matches the agent the caller claims, checks the lifetime and the IP
// allowlist, holds the caveats, and refuses the credential when any of
// its ids is revoked or suspended: each as u asks, in that order. It
// fills cr as far as verification got, so a refusal can still name the
// credential. For an API key it also returns the key's roles, known
// without a store read. A closed client verifies nothing: what it
// would make of the credential (a token, a hop) it no longer answers for.
func (c *Client) verify(ctx context.Context, s string, now time.Time, u *credentialUse, cr *credential) ([]string, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	return c.verifyInto(ctx, s, now, u, cr, nil)
}

// verifyInto is verify that decodes a token into scratch, if set, when no
// cache keeps it (TokenConfig.NoCache): memory of the caller's that
// outlives the credential's use, so decoding allocates only the token's
// text. It is a parameter of its own, not a field of u: the compiler
// would then move the caller's u.env to the heap as well.
func (c *Client) verifyInto(ctx context.Context, s string, now time.Time, u *credentialUse, cr *credential, scratch *verifiedToken) ([]string, error) {
	roles, err := c.loadCredential(ctx, s, u.kinds, now, cr, scratch)
	if err != nil {
		return nil, err
	}
	if u.agent != "" && u.agent != cr.agent {
		return nil, errs.AgentMismatch
	}
	if err := cr.live(now, u.addr, u.anyAddr); err != nil {
		return nil, err
	}
	if u.env != nil {
		u.env.Agent, u.env.Hops = cr.agent, cr.hops
		if err := cr.hold(u.env, u.actions); err != nil {
			return nil, err
		}
	}
	switch u.blocks {
	case blocksAsCheck:
		err = c.refuseBlockedAt(ctx, cr.ids()...)
	case blocksFromStore:
		err = c.refuseBlocked(ctx, cr.ids()...)
	}
	if err != nil {
		return nil, err
	}
	return roles, nil
}

// loadCredential parses and verifies a credential of one of kinds into
// cr: its signature (or, for an API key, its hash in the store) and its
// tenant. For an API key it also returns the key's roles. A token is
// decoded into scratch, if set, when no cache keeps it.
func (c *Client) loadCredential(ctx context.Context, s string, kinds credentialKinds, now time.Time, cr *credential, scratch *verifiedToken) (roles []string, err error) {
	if len(s) > MaxCredentialSize {
		return nil, errs.CredentialTooLarge
	}
	switch {
	case kinds&apiKeys != 0 && strings.HasPrefix(s, KeyPrefix):
		ke, err := c.lookupKey(ctx, s, now)
		if ke != nil {
			// Set even when expired: the key proved itself by its hash.
			*cr = credential{id: ke.key.ID, keyID: ke.key.ID, agent: ke.key.AgentID, conds: ke.conds, prefixes: ke.prefixes, expires: ke.expires, key: ke}
		}
		if err != nil {
			return nil, err
		}
		return ke.key.Roles, nil
	case kinds&tokens != 0 && strings.HasPrefix(s, TokenPrefix):
		v, err := c.decodeToken(s, scratch)
		if err != nil {
			return nil, err
		}
		if v.tenant != c.tenant {
			// A token of another tenant proves nothing here.
			return nil, errs.BadSignature
		}
		*cr = credential{id: v.id, keyID: v.keyID, agent: v.agent, hops: v.hops, conds: v.conds, expires: v.expires, master: v.master}
	case kinds&jwts != 0 && looksLikeJWT(s):
		if err := c.verifyJWT(s, now, cr); err != nil {
			return nil, err
		}
	case kinds != anyCredential:
		return nil, ErrMalformedCredential // not of the one form this use takes
	default:
		return nil, errs.UnsupportedCredential
	}
	return nil, nil
}

// live checks its lifetime, which binds every use of a credential, and
// unless anyAddr its key's IP allowlist against addr.
func (cr *credential) live(now time.Time, addr netip.Addr, anyAddr bool) error {
	if !cr.expires.IsZero() && !now.Before(cr.expires) {
		return ErrExpired
	}
	if len(cr.prefixes) == 0 || anyAddr {
		return nil
	}
	if ip := addr.Unmap(); ip.IsValid() {
		for _, p := range cr.prefixes {
			if p.Contains(ip) {
				return nil
			}
		}
	}
	return errs.IPNotAllowed
}

// ids returns every id whose revocation or suspension kills cr: its own,
// its root key's, its agent's and its hops'.
func (cr *credential) ids() []string {
	ids := make([]string, 0, 3+len(cr.hops))
	ids = append(ids, cr.agent, cr.id)
	if cr.keyID != cr.id {
		ids = append(ids, cr.keyID)
	}
	return append(ids, cr.hops...)
}

// hold checks cr's caveats against env: all of them, or when actions is
// unset only those that do not bind actions (see actionCaveat).
func (cr *credential) hold(env *cond.Env, actions bool) error {
	for i := range cr.conds {
		cv := &cr.conds[i]
		// A budget caveat is spent by Check's budget phase, not evaluated.
		if !actions && actionCaveat(cv.Field) || cv.Field == cond.FieldBudget || cv.Eval(env) {
			continue
		}
		switch cv.Field {
		case cond.FieldIP:
			return fmt.Errorf("%w (caveat %q)", errs.IPNotAllowed, cv.String())
		case cond.FieldExpires:
			return ErrExpired
		}
		if !actions {
			return &CaveatError{Caveat: cv.String(), Msg: "does not hold for this caller"}
		}
		return &CaveatError{Caveat: cv.String(), Msg: "does not hold for this request"}
	}
	return nil
}

// identify is Check's credential phase: the credential says who is
// acting, and every caveat must hold for the request (env). The
// revocation of its ids is the next phase's. Once the credential's
// signature verified, the request's agent is the credential's, even when
// a caveat refuses it or the request claimed another agent, so the record
// names who tried, never the agent it claimed to be.
func (c *Client) identify(ctx context.Context, req *Request, now time.Time, st *checkState, env *cond.Env) error {
	u := credentialUse{kinds: anyCredential, agent: req.AgentID, addr: req.RemoteAddr, env: env, actions: true}
	_, err := c.verifyInto(ctx, req.Credential, now, &u, &st.cred, &st.tok)
	if st.cred.agent != "" {
		req.AgentID = st.cred.agent
	}
	return err
}

// Principal is who a credential proves the caller to be: a value, safe to
// share once made. The zero Principal holds no role and no caveat: it may
// do no work on the API.
type Principal struct {
	Tenant       string
	AgentID      string
	KeyID        string   // the API key at the root of the credential
	CredentialID string   // the key or token id
	HopIDs       []string // delegation hops, oldest first
	// Roles are what the credential may do on the server's API: its root
	// key's roles, except that a narrowed credential (one with Caveats or
	// HopIDs) holds at most the agent role. Work on the API (making keys,
	// revoking, deciding approvals) has no tool or resource a caveat
	// could bound, so an admin or approver role does not pass to it.
	Roles []string
	// Caveats are the credential's caveats that bind actions (tool,
	// resource, session, on_behalf_of, attributes), in canonical text.
	// Caveats on who and when (agent, tenant, ip, expires, hop) are not
	// listed: Authenticate has already enforced them.
	Caveats []string
}

// actionCaveat reports whether a caveat on field binds actions rather
// than the caller, its address or its lifetime (see cond.Field.BindsAction).
func actionCaveat(f cond.Field) bool { return f.BindsAction() }

// narrowRoles returns what a narrowed credential keeps of its root key's
// roles: the agent role, if the key has it (admin includes it), no other.
func narrowRoles(roles []string) []string {
	for _, r := range roles {
		if r == store.RoleAgent || r == store.RoleAdmin {
			return []string{store.RoleAgent}
		}
	}
	return nil
}

// checkKeyRoles refuses an admin or approver key with a caveat that binds
// actions: it could never use those roles (see Principal.Roles).
func checkKeyRoles(roles, caveats []string) error {
	wide := false
	for _, r := range roles {
		wide = wide || r == store.RoleAdmin || r == store.RoleApprover
	}
	if !wide {
		return nil
	}
	for _, s := range caveats {
		if cv, err := cond.Parse(s); err != nil || actionCaveat(cv.Field) {
			return fmt.Errorf("%w: caveat %q", errs.NarrowedRole, s)
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
	now, err := c.now()
	if err != nil {
		return Principal{}, err
	}
	var cr credential
	env := requestEnv(c.tenant, &Request{RemoteAddr: remoteAddr}, nil, nil, now)
	u := credentialUse{kinds: anyCredential, addr: remoteAddr, env: &env, blocks: blocksAsCheck}
	roles, err := c.verifyCall(ctx, cred, now, &u, &cr)
	if err != nil {
		return Principal{}, err
	}
	var caveats []string
	for i := range cr.conds {
		if cv := &cr.conds[i]; actionCaveat(cv.Field) {
			caveats = append(caveats, cv.String())
		}
	}
	if roles == nil {
		// A token's roles are its root key's. Keys never change once
		// made (revoking one is a block, checked above), so they are
		// cached by id.
		var ok bool
		if roles, ok = c.rootKeys.get(cr.keyID); !ok {
			var k store.Key
			err := recovered("key lookup", func() (err error) { k, err = c.store.Key(ctx, c.tenant, cr.keyID); return err })
			if err != nil {
				if isNotFound(err) {
					return Principal{}, errs.UnknownKey
				}
				return Principal{}, storeErr("key lookup", err)
			}
			roles = k.Roles
			c.rootKeys.put(cr.keyID, roles)
		}
	}
	// The caller's copy: the cached slices are shared.
	p := Principal{Tenant: c.tenant, AgentID: cr.agent, KeyID: cr.keyID, CredentialID: cr.id, HopIDs: slices.Clone(cr.hops), Caveats: caveats}
	if len(p.Caveats) > 0 || len(p.HopIDs) > 0 { // narrowed
		p.Roles = narrowRoles(roles)
	} else {
		p.Roles = slices.Clone(roles)
	}
	return p, nil
}
