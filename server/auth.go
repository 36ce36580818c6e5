package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// authenticate establishes who is calling from the bearer credential: an
// API key, a token or a JWT. It finds the tenant the credential claims,
// then that tenant's Client verifies everything (signature, expiry, IP
// allowlist against the caller's address, revocation and suspension).
func (s *Server) authenticate(c *call) error {
	cred, ok := bearer(c.r)
	if !ok {
		return errNoCredential
	}
	if len(cred) > agenttrust.MaxCredentialSize {
		return errs.CredentialTooLarge
	}
	ctx := c.r.Context()
	h := sha256.Sum256([]byte(cred))
	name, ok := s.creds.get(h)
	if !ok {
		var err error
		name, err = credentialTenant(ctx, s.st, cred)
		if err != nil {
			return err
		}
		s.creds.put(h, name)
	}
	t, err := s.tenant(ctx, name, true)
	if err != nil {
		if errors.Is(err, errNoTenant) && !strings.HasPrefix(cred, agenttrust.KeyPrefix) {
			// As for a forged token of a tenant that exists: whether a
			// tenant exists is not the caller's to learn.
			return s.unknownTenant(ctx, cred, c.addr)
		}
		return err
	}
	c.t = t // held until the request ends
	p, err := t.client.Authenticate(ctx, cred, c.addr)
	if err != nil {
		return err
	}
	// p.Roles are already bounded: a narrowed or delegated credential
	// holds at most the agent role (see agenttrust.Principal.Roles).
	c.bearer, c.p = cred, p
	return nil
}

// strangerTenant is the tenant of the Client that answers for tokens and
// JWTs claiming a tenant with no keys: a name no tenant of the server can
// have (validTenant refuses control characters).
const strangerTenant = "\x00"

// unknownTenant answers a token or JWT that claims a tenant with no keys
// as a Client of a tenant that exists answers a forgery: a Client with
// the tenants' options, over a store of its own that holds nothing,
// verifies it, so whatever it refuses before the signature (encoding,
// ambiguous claims, algorithm, location, depth) is refused alike, and
// the rest, which no forger gets past, is a bad signature. Answering
// every such credential with a bad signature instead would tell a
// stranger which tenants exist: one naming a real tenant gets the finer
// error.
func (s *Server) unknownTenant(ctx context.Context, cred string, addr netip.Addr) error {
	sc, err := s.strangerClient()
	if err != nil {
		return err
	}
	if _, err := sc.Authenticate(ctx, cred, addr); err != nil && errors.Is(err, agenttrust.ErrUnauthorized) {
		return err
	}
	return errs.BadSignature
}

// strangerClient returns the Client of unknownTenant, made on first use.
func (s *Server) strangerClient() (*agenttrust.Client, error) {
	s.strangerMu.Lock()
	defer s.strangerMu.Unlock()
	if s.stranger != nil {
		return s.stranger, nil
	}
	if s.closed.Load() {
		return nil, agenttrust.ErrClosed
	}
	c, err := agenttrust.New(memory.New(), s.tenantOptions([]agenttrust.Option{agenttrust.WithLogger(s.log)}, strangerTenant, "unknown-tenant")...)
	if err != nil {
		return nil, fmt.Errorf("%w: open the client for unknown tenants: %w", agenttrust.ErrInvalidConfig, err)
	}
	s.stranger = c
	return c, nil
}

// closeStranger closes the Client of unknownTenant, if made.
func (s *Server) closeStranger() error {
	s.strangerMu.Lock()
	defer s.strangerMu.Unlock()
	if s.stranger == nil {
		return nil
	}
	return s.stranger.Close()
}

// refuseCaller answers a request whose bearer failed authentication. A
// check asked for by a credential that verified but is revoked or
// suspended (its agent, key, token or a hop), expired, or presented from
// outside its key's IP allowlist still leaves a record naming it: the
// tenant's Client checks the attempt, which denies, and writes it to the
// audit. Nothing else is recorded: a credential that does not verify
// (forged, unknown, malformed) proves no one, and a stranger must not
// write to a tenant's audit.
func (s *Server) refuseCaller(c *call, err error) error {
	if c.t == nil || c.rt.method != http.MethodPost || c.rt.path != "/v1/actions/check" || !recordedRefusal(err) {
		return authError(err)
	}
	cred, ok := bearer(c.r)
	if !ok || readBody(c) != nil {
		return authError(err)
	}
	var req wire.CheckRequest
	if c.decode(&req) != nil || req.ToolName == "" {
		return authError(err)
	}
	ar := agenttrust.Request{
		Tool: req.ToolName, Resource: req.Resource, SessionID: req.SessionID, OnBehalfOf: req.OnBehalfOf,
		Credential: cred, RemoteAddr: c.addr, Attributes: req.Attributes,
	}
	d, cerr := s.decideCheck(c, &ar)
	if d.Allowed() {
		// The block was lifted after Authenticate saw it: the record
		// says allow, so the caller is told the same.
		s.answerCheck(c, &d, cerr)
		return nil
	}
	return authError(err)
}

// recordedRefusal reports whether err refuses a bearer that verified
// (signature or hash), whose check attempt is therefore recorded.
func recordedRefusal(err error) bool {
	return errors.Is(err, agenttrust.ErrRevoked) || errors.Is(err, agenttrust.ErrSuspended) ||
		errors.Is(err, agenttrust.ErrExpired) || errors.Is(err, errs.IPNotAllowed)
}

// errNoCredential: the request carries no bearer credential.
var errNoCredential = &apiError{status: http.StatusUnauthorized, code: "unauthenticated",
	msg: "an Authorization: Bearer credential (API key, token or JWT) is required"}

// bearer returns the credential of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Values("Authorization")
	if len(v) != 1 {
		return "", false
	}
	scheme, cred, ok := strings.Cut(v[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// authorize checks the principal's roles against the route's access.
func (s *Server) authorize(c *call) error {
	a := c.rt.access
	if a == authed {
		return nil
	}
	if a&system != 0 && (s.system == "" || c.p.Tenant != s.system) {
		return forbidden("this route is for the operator's system tenant")
	}
	if a&admin != 0 && hasRole(c.p.Roles, store.RoleAdmin) ||
		a&approver != 0 && hasRole(c.p.Roles, store.RoleApprover) ||
		a&agent != 0 && hasRole(c.p.Roles, store.RoleAgent) {
		return nil
	}
	return forbidden("the credential's roles do not allow " + c.rt.name())
}

func (c *call) isAdmin() bool { return hasRole(c.p.Roles, store.RoleAdmin) }

// canSeeAll reports whether the caller sees every agent's approvals and
// tokens in its tenant, not only its own.
func (c *call) canSeeAll() bool {
	return hasRole(c.p.Roles, store.RoleAdmin) || hasRole(c.p.Roles, store.RoleApprover)
}

// remoteAddr returns the caller's address, by which every credential of
// the request (the bearer, a checked one) is judged: the connection's,
// or, when the connection comes from a trusted proxy, the right-most
// address of X-Forwarded-For that is not a trusted proxy. A malformed hop
// yields the invalid Addr, which no IP allowlist or "ip" caveat accepts;
// so does an X-Forwarded-For from a peer that is not a trusted proxy. Such
// a peer says it speaks for someone else (a service with a remote
// client forwards its caller's address), so its own address is not the
// caller's either, and the credential it presents must not be judged by
// it: a key allowlisted to the service's host would pass from anywhere.
func (s *Server) remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	var peer netip.Addr
	if err == nil {
		peer = ap.Addr().Unmap()
	} else if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		peer = a.Unmap()
	}
	hops := r.Header.Values("X-Forwarded-For")
	if !peer.IsValid() || !s.isTrusted(peer) {
		if forwards(hops) {
			return netip.Addr{}
		}
		return peer
	}
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		line := hops[i]
		for line != "" {
			var hop string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, err := parseHop(hop)
			if err != nil {
				return netip.Addr{}
			}
			if !s.isTrusted(a) {
				return a
			}
			addr = a
		}
	}
	// Every hop is a trusted proxy: the left-most is the closest we know
	// to the client.
	return addr
}

// forwards reports whether X-Forwarded-For values name any hop.
func forwards(hops []string) bool {
	for _, h := range hops {
		if strings.Trim(h, " \t,") != "" {
			return true
		}
	}
	return false
}

// parseHop parses one X-Forwarded-For entry: an address, possibly with a
// port, IPv6 possibly in brackets.
func parseHop(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Addr{}, errors.New("zoned address")
		}
		return a.Unmap(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			a, err := netip.ParseAddr(s[1 : len(s)-1])
			if err == nil && a.Zone() == "" {
				return a.Unmap(), nil
			}
		}
		return netip.Addr{}, errors.New("malformed address")
	}
	if ap.Addr().Zone() != "" {
		return netip.Addr{}, errors.New("zoned address")
	}
	return ap.Addr().Unmap(), nil
}

func (s *Server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
