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
	var out wire.PrincipalView
	err := c.do(ctx, &call{
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
	return p, nil
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
