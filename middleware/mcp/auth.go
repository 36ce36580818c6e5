package mcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
)

// Keys of auth.TokenInfo.Extra as TokenVerifier fills it.
const (
	ExtraTenant       = "agenttrust.tenant"        // string
	ExtraKeyID        = "agenttrust.key_id"        // string: the API key at the root of the token
	ExtraCredentialID = "agenttrust.credential_id" // string: the token id
	ExtraHopIDs       = "agenttrust.hop_ids"       // []string: delegation hops, oldest first; absent when none
	ExtraRemoteAddr   = "agenttrust.remote_addr"   // netip.Addr: where the token was presented from; absent when unknown
)

// Authenticator verifies a credential before the action is known:
// *agenttrust.Client implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, credential string, remoteAddr netip.Addr) (agenttrust.Principal, error)
}

var _ Authenticator = (*agenttrust.Client)(nil)

// VerifierOption configures TokenVerifier.
type VerifierOption func(*verifierConfig)

type verifierConfig struct {
	unbound    bool
	remoteAddr func(*http.Request) netip.Addr
}

// UnsafeAcceptUnboundTokens makes TokenVerifier accept macaroon tokens
// (att_), which name no audience: a server that is shown one can replay it
// to any other service of the tenant, within the token's caveats and
// lifetime. Use it only where every server is trusted alike, and prefer
// tokens narrowed with Attenuate to the tools of this server.
func UnsafeAcceptUnboundTokens() VerifierOption {
	return func(c *verifierConfig) { c.unbound = true }
}

// WithRemoteAddr sets how TokenVerifier finds the caller's address, which
// IP allowlists and "ip" caveats are checked against. The default is the
// connection's peer, r.RemoteAddr; behind a reverse proxy, return the
// client address the proxy reports, believing only proxies you run.
func WithRemoteAddr(f func(r *http.Request) netip.Addr) VerifierOption {
	return func(c *verifierConfig) { c.remoteAddr = f }
}

// TokenVerifier returns an auth.TokenVerifier for auth.RequireBearerToken
// that accepts agenttrust tokens issued for resourceURI, the absolute URI
// by which MCP clients know this server (RFC 8707, the "resource" they ask
// tokens for), and authenticates them with a (an *agenttrust.Client built
// with resourceURI among agenttrust.TokenConfig.Audiences).
//
// A JWT must verify (signature, issuer, expiry, revocation and suspension
// of its agent, key and id, IP allowlist) and its "aud" must be exactly
// resourceURI, a single audience. Macaroon tokens are refused unless
// UnsafeAcceptUnboundTokens is given; API keys always are.
//
// The TokenInfo names the agent as UserID (so the SDK binds each session
// to one agent), the token's roles as Scopes (so
// RequireBearerTokenOptions.Scopes can demand one: its root key's roles,
// but at most "agent" for a narrowed or delegated token, see
// agenttrust.Principal.Roles), the token's expiry,
// and in Extra the tenant, key id, token id, hops and address (the Extra...
// keys). ServerMiddleware recognises such info and checks the bearer token
// itself on every tool call.
//
// A credential that does not verify yields an error matching
// auth.ErrInvalidToken (a 401) and the agenttrust error that says why; a
// failure of the store yields another error (a 500). Messages never hold
// the token.
func TokenVerifier(a Authenticator, resourceURI string, opts ...VerifierOption) auth.TokenVerifier {
	cfg := verifierConfig{remoteAddr: peerAddr}
	for _, o := range opts {
		o(&cfg)
	}
	var cfgErr error
	if _, err := parseResourceURI(resourceURI); err != nil {
		cfgErr = err
	} else if a == nil {
		cfgErr = fmt.Errorf("%w: TokenVerifier has a nil Authenticator", agenttrust.ErrInvalidConfig)
	}
	return func(ctx context.Context, token string, r *http.Request) (*auth.TokenInfo, error) {
		if cfgErr != nil {
			return nil, &verifyError{msg: "agenttrust: token verification is misconfigured", err: cfgErr}
		}
		var exp time.Time
		switch {
		case strings.HasPrefix(token, agenttrust.KeyPrefix):
			return nil, refused("an API key is not accepted here: exchange it for a token issued for "+resourceURI, errs.UnsupportedCredential)
		case strings.HasPrefix(token, agenttrust.TokenPrefix):
			if !cfg.unbound {
				return nil, refused("a token without an audience is not accepted here: present a JWT issued for "+resourceURI, errs.Audience)
			}
		}
		var addr netip.Addr
		if r != nil {
			addr = cfg.remoteAddr(r)
		}
		p, err := a.Authenticate(ctx, token, addr)
		if err != nil {
			return nil, authError(err)
		}
		if strings.HasPrefix(token, agenttrust.TokenPrefix) {
			info, err := agenttrust.InspectTokenUnverified(token) // verified above
			if err != nil {
				return nil, authError(err)
			}
			exp = info.ExpiresAt
		} else {
			// Verified above; read the claims the Authenticator does not
			// report, and hold the audience to this server whatever
			// audiences the Authenticator was told to accept.
			c, err := jwtClaims(token)
			if err != nil {
				return nil, refused(agenttrust.ErrMalformedCredential.Error(), agenttrust.ErrMalformedCredential)
			}
			if !c.audienceIs(resourceURI) {
				return nil, refused("token audience is not "+resourceURI, errs.Audience)
			}
			exp = c.expiry()
		}
		extra := map[string]any{
			ExtraTenant: p.Tenant, ExtraKeyID: p.KeyID, ExtraCredentialID: p.CredentialID,
		}
		if len(p.HopIDs) > 0 {
			extra[ExtraHopIDs] = slices.Clone(p.HopIDs)
		}
		if addr.IsValid() {
			extra[ExtraRemoteAddr] = addr
		}
		return &auth.TokenInfo{
			Scopes:     slices.Clone(p.Roles),
			Expiration: exp,
			UserID:     p.AgentID,
			Extra:      extra,
		}, nil
	}
}

// verifyError is what TokenVerifier returns: a message fit for the 401 or
// 500 body, and the errors it matches.
type verifyError struct {
	msg     string
	err     error
	invalid bool // the token is bad, not the server: matches auth.ErrInvalidToken
}

func (e *verifyError) Error() string { return e.msg }

func (e *verifyError) Unwrap() []error {
	if e.invalid {
		return []error{auth.ErrInvalidToken, e.err}
	}
	return []error{e.err}
}

func refused(msg string, err error) error {
	return &verifyError{msg: auth.ErrInvalidToken.Error() + ": " + msg, err: err, invalid: true}
}

// credentialErrors are the failures TokenVerifier names, most specific first.
var credentialErrors = [...]error{
	agenttrust.ErrExpired, agenttrust.ErrRevoked, agenttrust.ErrSuspended,
	errs.KeyChecksum, errs.CredentialTooLarge, agenttrust.ErrMalformedCredential,
	errs.BadSignature, errs.UnknownKey, errs.UnsupportedCredential,
	errs.IPNotAllowed, errs.AgentMismatch, errs.DelegationDepth,
	errs.Audience, errs.Algorithm,
}

// authError turns an Authenticate failure into a TokenVerifier error
// whose message names the kind of failure, never its detail, except for a
// caveat (the caller's own credential).
func authError(err error) error {
	var ce *agenttrust.CaveatError
	switch {
	case errors.As(err, &ce):
		return refused(ce.Error(), err)
	case errors.Is(err, agenttrust.ErrUnauthorized):
		for _, e := range credentialErrors {
			if errors.Is(err, e) {
				return refused(e.Error(), err)
			}
		}
		return refused(agenttrust.ErrUnauthorized.Error(), err)
	case errors.Is(err, agenttrust.ErrStoreUnavailable), errors.Is(err, agenttrust.ErrClosed):
		return &verifyError{msg: "agenttrust: authentication temporarily unavailable", err: err}
	}
	return &verifyError{msg: "agenttrust: authentication failed", err: err}
}

// claims are the JWT claims TokenVerifier reads itself.
type claims struct {
	Aud json.RawMessage `json:"aud"`
	Exp float64         `json:"exp"`
}

// jwtClaims decodes a JWT's payload without verifying it: call it only
// on a token that has been verified.
func jwtClaims(token string) (claims, error) {
	var c claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, agenttrust.ErrMalformedCredential
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, agenttrust.ErrMalformedCredential
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, agenttrust.ErrMalformedCredential
	}
	return c, nil
}

// audienceIs reports whether aud names resource and nothing else: a
// token for several audiences could be replayed by any of them.
func (c claims) audienceIs(resource string) bool {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return one == resource
	}
	var many []string
	return json.Unmarshal(c.Aud, &many) == nil && len(many) == 1 && many[0] == resource
}

func (c claims) expiry() time.Time {
	if c.Exp <= 0 {
		return time.Time{}
	}
	sec := int64(c.Exp)
	return time.Unix(sec, int64((c.Exp-float64(sec))*1e9))
}

// peerAddr is the address of the connection's peer.
func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// WellKnownPath is where RFC 9728 puts protected resource metadata.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// parseResourceURI checks a resource URI as RFC 8707 wants it: absolute,
// with a host and without a fragment.
func parseResourceURI(resourceURI string) (*url.URL, error) {
	u, err := url.Parse(resourceURI)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(resourceURI, "#") {
		return nil, fmt.Errorf("%w: resource URI %q must be an absolute URI with a host and no fragment", agenttrust.ErrInvalidConfig, resourceURI)
	}
	return u, nil
}

// MetadataURL returns where the protected resource metadata of
// resourceURI lives (RFC 9728 section 3.1): WellKnownPath inserted between
// the host and the path, so https://mcp.example.com/mcp has its metadata at
// https://mcp.example.com/.well-known/oauth-protected-resource/mcp. Serve
// ProtectedResourceHandler there and name it in
// auth.RequireBearerTokenOptions.ResourceMetadataURL.
func MetadataURL(resourceURI string) (string, error) {
	u, err := parseResourceURI(resourceURI)
	if err != nil {
		return "", err
	}
	m := *u
	p, raw := u.Path, u.RawPath
	if p == "/" {
		p, raw = "", ""
	}
	m.Path = WellKnownPath + p
	if raw != "" {
		m.RawPath = WellKnownPath + raw
	}
	return m.String(), nil
}

// ProtectedResourceHandler serves the protected resource metadata (RFC
// 9728) of resourceURI with the SDK's auth.ProtectedResourceMetadataHandler:
// the resource, the authorization servers that issue its tokens (for
// agenttrust, the URL of the server whose token endpoint mints them, its
// issuer) and the one bearer
// method accepted, the Authorization header. An invalid resourceURI makes
// every request fail with 500.
func ProtectedResourceHandler(resourceURI string, authorizationServers ...string) http.Handler {
	if _, err := parseResourceURI(resourceURI); err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "protected resource metadata is misconfigured", http.StatusInternalServerError)
		})
	}
	return auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:               resourceURI,
		AuthorizationServers:   slices.Clone(authorizationServers),
		BearerMethodsSupported: []string{"header"},
	})
}
