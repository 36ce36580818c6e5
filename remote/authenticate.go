package remote

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// Authenticate verifies credential (an API key, a token or a JWT) through
// the server, as the server verifies a bearer: it sends GET /v1/whoami
// with credential, not the client's own, as the bearer, and returns the
// Principal the server established. It makes *Client an Authenticator for
// middleware/mcp.TokenVerifier, so an MCP server fronting a central
// agenttrust server verifies its bearers there: signature, expiry,
// audience (the server must accept the MCP server's URI: serve
// --audience), revocation of every id the credential carries and
// suspension of its agent, all read by the server at the time of the call.
//
// remoteAddr, when valid, is sent as X-Forwarded-For: the server judges
// IP allowlists and "ip" caveats by it only when this client's address is
// one of its trusted proxies (serve --trusted-proxy). When it is not, the
// server judges by no address, so a credential with an IP allowlist is
// refused (errors matching agenttrust.ErrUnauthorized) rather than held
// to this client's own address. Without a valid remoteAddr the address is
// this client's.
//
// Only a credential of the client's own tenant (its API key's, asked of
// the server once) is accepted: the server chooses the tenant from the
// credential it is shown, and one of another tenant of the same server
// is refused with an error matching agenttrust.ErrUnauthorized.
//
// A narrowed or delegated credential holds at most the agent role
// (see agenttrust.Principal.Roles); an answer that gives one more is not
// believed, and fails like a malformed answer, with an error matching
// agenttrust.ErrStoreUnavailable. A credential the server refuses yields
// an error matching agenttrust.ErrUnauthorized and the server's reason
// (ErrRevoked, ErrExpired, ErrMalformedCredential, ...); an empty credential is
// refused without asking, so the client's own is never verified in its
// place. It is safe to repeat, so WithRetries applies.
func (c *Client) Authenticate(ctx context.Context, credential string, remoteAddr netip.Addr) (agenttrust.Principal, error) {
	if credential == "" {
		return agenttrust.Principal{}, &Error{Op: "Authenticate", Message: "no credential", err: []error{agenttrust.ErrMalformedCredential}}
	}
	if len(credential) > agenttrust.MaxCredentialSize {
		return agenttrust.Principal{}, &Error{Op: "Authenticate", Message: "credential too large", err: []error{errs.CredentialTooLarge}}
	}
	for i := 0; i < len(credential); i++ {
		if b := credential[i]; b <= ' ' || b >= 0x7f {
			return agenttrust.Principal{}, &Error{Op: "Authenticate", Message: "malformed credential", err: []error{agenttrust.ErrMalformedCredential}}
		}
	}
	own, err := c.ownTenant(ctx)
	if err != nil {
		return agenttrust.Principal{}, err
	}
	var out wire.PrincipalView
	err = c.do(ctx, &call{
		op: "Authenticate", method: http.MethodGet, path: "/v1/whoami", bearer: credential,
		forwardedFor: remoteAddr, idempotent: true, status: http.StatusOK, out: &out,
	})
	if err != nil {
		return agenttrust.Principal{}, err
	}
	p := agenttrust.Principal{
		Tenant: out.Tenant, AgentID: out.AgentID, KeyID: out.KeyID, CredentialID: out.CredentialID,
		HopIDs: out.HopIDs, Roles: out.Roles, Caveats: out.Caveats,
	}
	if err := checkPrincipal(p); err != nil {
		return agenttrust.Principal{}, c.malformed("Authenticate", "principal: "+err.Error(), credential)
	}
	if p.Tenant != own {
		// The server chose the tenant from the credential: one of
		// another tenant proves nothing here.
		return agenttrust.Principal{}, &Error{Op: "Authenticate", Message: "a credential of another tenant than this client's", err: []error{errs.BadSignature}}
	}
	return p, nil
}

// ownTenant is the tenant of the client's own key, asked of the server
// once (GET /v1/whoami with it) and kept; a failure is not kept.
func (c *Client) ownTenant(ctx context.Context) (string, error) {
	if t := c.tenant.Load(); t != nil {
		return *t, nil
	}
	var out wire.PrincipalView
	if err := c.do(ctx, &call{op: "Authenticate", method: http.MethodGet, path: "/v1/whoami", idempotent: true, status: http.StatusOK, out: &out}); err != nil {
		return "", err
	}
	if out.Tenant == "" {
		return "", c.malformed("Authenticate", "whoami of the client's own key names no tenant", "")
	}
	c.tenant.Store(&out.Tenant)
	return out.Tenant, nil
}

// checkPrincipal refuses an answer that names no one, or that gives a
// narrowed credential more than the agent role.
func checkPrincipal(p agenttrust.Principal) error {
	if p.Tenant == "" || p.AgentID == "" || p.CredentialID == "" {
		return fmt.Errorf("no tenant, agent or credential id")
	}
	if len(p.Caveats) > 0 || len(p.HopIDs) > 0 { // narrowed
		for _, r := range p.Roles {
			if r != store.RoleAgent {
				return fmt.Errorf("a narrowed credential with role %q", r)
			}
		}
	}
	return nil
}
