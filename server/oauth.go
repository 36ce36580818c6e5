package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// The OAuth 2.1 authorization server for machine clients: RFC 8414
// metadata and a token endpoint with the client credentials grant and RFC
// 8693 token exchange (see package doc, "OAuth"). The metadata names an
// authorization endpoint, since clients demand the member, but there is
// none: no response type is supported.
const (
	oauthMetadataPath  = "/.well-known/oauth-authorization-server"
	oauthTokenPath     = "/oauth/token"
	oauthAuthorizePath = "/oauth/authorize"

	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess        = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"

	// oauthScope is the one scope a token of the endpoint holds: the
	// agent role (it is narrowed, see agenttrust.Client.NarrowJWT).
	oauthScope = store.RoleAgent

	// maxTokenRequest bounds a token request's body: two credentials and
	// a few short parameters.
	maxTokenRequest = 64 << 10
)

// WithIssuer sets the server's public URL, such as
// "https://agenttrust.example.com": the "iss" of every JWT its tenants
// mint and require (agenttrust.TokenConfig.Issuer), an audience they
// accept (TokenConfig.Audiences; add others with WithClientOptions), and
// the issuer of its OAuth authorization server metadata, whose endpoints
// are under it. It must be an http or https URL with a host and no path,
// query or fragment, since the metadata is served at the root
// (RFC 8414 section 3). Give no other TokenConfig.Issuer besides it.
// Without it the OAuth routes answer 404.
func WithIssuer(issuer string) Option {
	return func(s *Server) error {
		iss, err := parseIssuer(issuer)
		if err != nil {
			return err
		}
		s.issuer = iss
		s.clientOpts = append(s.clientOpts, agenttrust.WithTokens(agenttrust.TokenConfig{Issuer: iss, Audiences: []string{iss}}))
		return nil
	}
}

// parseIssuer checks an issuer URL and returns its canonical text,
// without a trailing slash.
func parseIssuer(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#") {
		shown, note := shownIssuer(issuer), ""
		if shown != issuer {
			note = " (shown without its user, query and fragment)"
		}
		return "", fmt.Errorf("%w: issuer %q%s must be an http or https URL with a host and no user, path, query or fragment", agenttrust.ErrInvalidConfig, shown, note)
	}
	return u.Scheme + "://" + u.Host, nil
}

// shownIssuer is issuer as an error may quote it: without a user (and
// password), a query or a fragment, any of which may hold a secret
// (https://ops:pw@host, ?access_token=...), since the error of a flag
// goes to stderr, often a log. It reads issuer as text, not as a URL,
// so that one too malformed to parse loses them as well: everything
// from the first '?' or '#', and everything after the scheme up to the
// last '@'.
func shownIssuer(issuer string) string {
	s := issuer
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	scheme := ""
	if sc, rest, ok := strings.Cut(s, "://"); ok {
		scheme, s = sc+"://", rest
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	return scheme + s
}

// oauthMetadata answers GET /.well-known/oauth-authorization-server.
func (s *Server) oauthMetadata(c *call) error {
	if s.issuer == "" {
		return errNoIssuer
	}
	c.w.Header().Set("Cache-Control", "max-age=300")
	writeJSON(c, http.StatusOK, wire.AuthServerMetadata{
		Issuer:                            s.issuer,
		AuthorizationEndpoint:             s.issuer + oauthAuthorizePath,
		TokenEndpoint:                     s.issuer + oauthTokenPath,
		JWKSURI:                           s.issuer + "/.well-known/jwks.json",
		ScopesSupported:                   []string{oauthScope},
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{grantClientCredentials, grantTokenExchange},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
	})
	return nil
}

var errNoIssuer = &apiError{status: http.StatusNotFound, code: "not_found",
	msg: "this server has no OAuth issuer configured (server.WithIssuer, agenttrust serve --issuer)"}

// oauthError is an error of the token endpoint (RFC 6749 section 5.2).
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func oauthInvalid(code, desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, desc: desc}
}

// invalidClient: the client did not authenticate (RFC 6749 section 5.2).
// Its code, like every code of an oauthError, is of OAuth's vocabulary
// (the spec's OAuthError), not of the API's ErrorCode.
func invalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: codeInvalidClient, desc: desc}
}

const codeInvalidClient = "invalid_client"

// writeOAuthError writes e: invalid_client is a 401 with a
// WWW-Authenticate challenge for the Basic scheme (RFC 6749 section 5.2).
func writeOAuthError(c *call, e *oauthError) {
	h := c.w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="agenttrust", charset="UTF-8"`)
	}
	writeJSON(c, e.status, wire.OAuthError{Error: e.code, ErrorDescription: redact.Credentials(e.desc)})
}

// tokenParams are the parameters the token endpoint reads.
var tokenParams = []string{"grant_type", "client_id", "client_secret", "scope", "resource", "audience",
	"subject_token", "subject_token_type", "requested_token_type", "actor_token", "actor_token_type", "caveat"}

// tokenRequest is a parsed token request.
type tokenRequest struct {
	form         url.Values
	clientID     string
	clientSecret string
	hasSecret    bool
}

// oauthToken answers POST /oauth/token. A refusal is an RFC 6749
// section 5.2 error (400, or 401 for invalid_client); a body that comes
// too late (408) and a failure of the server (5xx) are answered like on
// every route, with the API's error body: section 5.2 defines no error
// of the server's own.
func (s *Server) oauthToken(c *call) error {
	if s.issuer == "" {
		return errNoIssuer
	}
	tok, err := s.issueToken(c)
	if err != nil {
		var oe *oauthError
		if !errors.As(err, &oe) {
			if ae := s.classify(err); ae.status >= 500 || ae == errBodyTimeout {
				return err
			}
			oe = oauthInvalid("invalid_request", s.classify(err).msg)
		}
		writeOAuthError(c, oe)
		return nil
	}
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.Header().Set("Pragma", "no-cache")
	writeJSON(c, http.StatusOK, tok)
	return nil
}

// issueToken parses and serves a token request.
func (s *Server) issueToken(c *call) (*wire.OAuthToken, error) {
	tr, err := s.parseTokenRequest(c)
	if err != nil {
		return nil, err
	}
	grant := tr.form.Get("grant_type")
	switch grant {
	case "":
		return nil, oauthInvalid("invalid_request", "grant_type is required")
	case grantClientCredentials:
		return s.clientCredentials(c, tr)
	case grantTokenExchange:
		return s.tokenExchange(c, tr)
	}
	return nil, oauthInvalid("unsupported_grant_type", "supported grant types: "+grantClientCredentials+", "+grantTokenExchange)
}

// parseTokenRequest reads the form body (bounded like every body, and
// smaller) and the client's authentication: HTTP Basic or the
// client_id and client_secret parameters, never both (RFC 6749 section
// 2.3.1). A parameter given twice is refused (section 3.2), but for
// "caveat", which may repeat; unknown parameters are ignored.
func (s *Server) parseTokenRequest(c *call) (*tokenRequest, error) {
	r := c.r
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauthInvalid("invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	if r.ContentLength > maxTokenRequest {
		return nil, oauthInvalid("invalid_request", "the request body is too large")
	}
	buf := bytes.NewBuffer(c.body[:0])
	_, err = buf.ReadFrom(http.MaxBytesReader(c.w, r.Body, maxTokenRequest))
	c.body = buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, oauthInvalid("invalid_request", "the request body is too large")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errBodyTimeout
		}
		return nil, oauthInvalid("invalid_request", "reading the request body failed")
	}
	form, err := url.ParseQuery(string(c.body))
	if err != nil {
		return nil, oauthInvalid("invalid_request", "the body is not a valid form")
	}
	for k, vs := range form {
		if len(vs) > 1 && k != "caveat" {
			name := "a parameter" // not echoed unless known: it could be anything, a secret too
			if slices.Contains(tokenParams, k) {
				name = "parameter " + quote(k)
			}
			return nil, oauthInvalid("invalid_request", name+" given more than once")
		}
	}
	tr := &tokenRequest{form: form}
	_, hasID := form["client_id"]
	_, tr.hasSecret = form["client_secret"]
	if v := r.Header.Values("Authorization"); len(v) > 0 {
		scheme, cred, _ := strings.Cut(v[0], " ")
		if len(v) != 1 || !strings.EqualFold(scheme, "Basic") {
			return nil, invalidClient("client authentication must use the Basic scheme or the form")
		}
		if tr.hasSecret {
			return nil, oauthInvalid("invalid_request", "the client authenticated twice: Basic and client_secret")
		}
		id, secret, ok := basicCredentials(strings.TrimSpace(cred))
		if !ok {
			return nil, invalidClient("malformed Basic credentials")
		}
		if hasID && form.Get("client_id") != id {
			return nil, oauthInvalid("invalid_request", "client_id differs from the Basic credentials")
		}
		tr.clientID, tr.clientSecret, tr.hasSecret = id, secret, true
		return tr, nil
	}
	tr.clientID, tr.clientSecret = form.Get("client_id"), form.Get("client_secret")
	return tr, nil
}

// basicCredentials decodes HTTP Basic credentials whose id and secret
// are form-encoded, as RFC 6749 section 2.3.1 wants them.
func basicCredentials(cred string) (id, secret string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", "", false
	}
	eid, esecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", false
	}
	if id, err = url.QueryUnescape(eid); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(esecret); err != nil {
		return "", "", false
	}
	return id, secret, id != ""
}

// clientCredentials serves the client credentials grant: the client is an
// agent, its secret one of the agent's API keys and its id the agent id.
func (s *Server) clientCredentials(c *call, tr *tokenRequest) (*wire.OAuthToken, error) {
	if !tr.hasSecret || tr.clientSecret == "" {
		return nil, invalidClient("client authentication (client_secret_basic or client_secret_post) is required")
	}
	if tr.clientID == "" {
		return nil, oauthInvalid("invalid_request", "client_id is required")
	}
	if !strings.HasPrefix(tr.clientSecret, agenttrust.KeyPrefix) {
		return nil, invalidClient("the client secret must be an API key")
	}
	aud, err := tokenAudience(tr.form, s.issuer)
	if err != nil {
		return nil, err
	}
	if err := checkScope(tr.form); err != nil {
		return nil, err
	}
	p, err := s.authenticateClient(c, tr)
	if err != nil {
		return nil, err
	}
	if !hasRole(p.Roles, store.RoleAgent) && !hasRole(p.Roles, store.RoleAdmin) {
		return nil, oauthInvalid("unauthorized_client", "the key has no agent role, which is all a token of this endpoint holds")
	}
	return s.narrow(c, tr.clientSecret, aud, tr.form["caveat"], "")
}

// authenticateClient verifies the client's secret, an API key, as the
// API authenticates a bearer (address, revocation, suspension), and
// holds the client id to its agent. It opens the key's tenant into c.t.
func (s *Server) authenticateClient(c *call, tr *tokenRequest) (agenttrust.Principal, error) {
	if err := s.openTenantOf(c, tr.clientSecret); err != nil {
		return agenttrust.Principal{}, clientError(err)
	}
	p, err := c.t.client.Authenticate(c.r.Context(), tr.clientSecret, c.addr)
	if err != nil {
		return agenttrust.Principal{}, clientError(err)
	}
	if p.AgentID != tr.clientID {
		return agenttrust.Principal{}, invalidClient("client_id is not the agent of the client secret")
	}
	return p, nil
}

// clientError turns a failure to authenticate the client into
// invalid_client, unless the server failed.
func clientError(err error) error {
	if errors.Is(err, agenttrust.ErrUnauthorized) || errors.Is(err, errNoTenant) {
		return invalidClient("client authentication failed: " + errorCode(err))
	}
	return err
}

// tokenExchange serves RFC 8693 token exchange: the subject token, an
// att_ token or a JWT of this server, narrowed into a JWT for the
// requested audience. The subject token is the proof: client
// authentication is optional, and when given it must be an API key of
// the subject's own agent.
func (s *Server) tokenExchange(c *call, tr *tokenRequest) (*wire.OAuthToken, error) {
	f := tr.form
	subject := f.Get("subject_token")
	switch {
	case subject == "":
		return nil, oauthInvalid("invalid_request", "subject_token is required")
	case f.Get("subject_token_type") == "":
		return nil, oauthInvalid("invalid_request", "subject_token_type is required")
	case f.Get("subject_token_type") != tokenTypeAccess && f.Get("subject_token_type") != tokenTypeJWT:
		return nil, oauthInvalid("invalid_request", "subject_token_type must be "+tokenTypeAccess+" or "+tokenTypeJWT)
	case f.Has("actor_token") || f.Has("actor_token_type"):
		return nil, oauthInvalid("invalid_request", "actor tokens are not supported")
	case strings.HasPrefix(subject, agenttrust.KeyPrefix):
		return nil, oauthInvalid("invalid_grant", "an API key is not a subject token: use the client_credentials grant")
	}
	issued := tokenTypeAccess
	switch rt := f.Get("requested_token_type"); rt {
	case "", tokenTypeAccess:
	case tokenTypeJWT:
		issued = tokenTypeJWT
	default:
		return nil, oauthInvalid("invalid_request", "requested_token_type must be "+tokenTypeAccess+" or "+tokenTypeJWT)
	}
	if tr.hasSecret && tr.clientID == "" {
		return nil, oauthInvalid("invalid_request", "client_secret without client_id")
	}
	aud, err := tokenAudience(f, s.issuer)
	if err != nil {
		return nil, err
	}
	if err := checkScope(f); err != nil {
		return nil, err
	}
	if err := s.openTenantOf(c, subject); err != nil {
		return nil, grantError(err)
	}
	ctx := c.r.Context()
	// The subject as the API would authenticate it from this caller: its
	// address, every id's revocation, its agent's suspension.
	p, err := c.t.client.Authenticate(ctx, subject, c.addr)
	if err != nil {
		return nil, grantError(err)
	}
	if tr.clientID != "" && tr.clientID != p.AgentID {
		return nil, invalidClient("client_id is not the agent of the subject token")
	}
	if tr.hasSecret {
		cp, err := c.t.client.Authenticate(ctx, tr.clientSecret, c.addr)
		if err != nil || !strings.HasPrefix(tr.clientSecret, agenttrust.KeyPrefix) {
			if err != nil && !errors.Is(err, agenttrust.ErrUnauthorized) {
				return nil, err
			}
			return nil, invalidClient("client authentication failed")
		}
		if cp.AgentID != p.AgentID {
			return nil, invalidClient("client_id is not the agent of the subject token")
		}
	}
	if !hasRole(p.Roles, store.RoleAgent) && !hasRole(p.Roles, store.RoleAdmin) {
		return nil, oauthInvalid("invalid_grant", "the subject token's key has no agent role, which is all a token of this endpoint holds")
	}
	return s.narrow(c, subject, aud, f["caveat"], issued)
}

// narrow mints the JWT and builds the response.
func (s *Server) narrow(c *call, subject, aud string, caveats []string, issued string) (*wire.OAuthToken, error) {
	tok, hop, err := c.t.client.NarrowJWT(c.r.Context(), subject, aud, 0, caveats...)
	if err != nil {
		var ce *agenttrust.CaveatError
		switch {
		case errors.Is(err, errs.Audience):
			return nil, oauthInvalid("invalid_target", "a JWT is exchanged only for an audience it already names")
		case errors.As(err, &ce):
			// The subject's caveats held when it was authenticated: this
			// is a caveat parameter of the request.
			return nil, oauthInvalid("invalid_request", ce.Error())
		}
		return nil, grantError(err)
	}
	secs := int64(hop.ExpiresAt.Sub(s.now()) / time.Second)
	if secs < 0 {
		secs = 0
	}
	return &wire.OAuthToken{AccessToken: tok, IssuedTokenType: issued, TokenType: "Bearer", ExpiresIn: secs, Scope: oauthScope}, nil
}

// grantError turns a failure to verify or narrow the grant into
// invalid_grant (or invalid_request for a bad caveat), unless the server
// failed.
func grantError(err error) error {
	var ce *agenttrust.CaveatError
	switch {
	case errors.Is(err, agenttrust.ErrInvalidRequest) && !errors.Is(err, agenttrust.ErrUnauthorized):
		return oauthInvalid("invalid_request", err.Error())
	case errors.As(err, &ce) && errors.Is(err, agenttrust.ErrUnauthorized) && !isStoreFailure(err):
		return oauthInvalid("invalid_grant", "the grant is refused: caveat")
	case errors.Is(err, errs.CredentialTooLarge):
		return oauthInvalid("invalid_request", err.Error())
	case errors.Is(err, agenttrust.ErrUnauthorized), errors.Is(err, errNoTenant):
		return oauthInvalid("invalid_grant", "the grant is refused: "+errorCode(err))
	}
	return err
}

// tokenAudience returns the audience of the JWT to issue: the RFC 8707
// "resource" or the RFC 8693 "audience", one of them or both the same,
// else the issuer itself. A resource is an absolute URI without a
// fragment (RFC 8707 section 2).
func tokenAudience(f url.Values, issuer string) (string, error) {
	res, aud := f.Get("resource"), f.Get("audience")
	switch {
	case f.Has("resource") && res == "", f.Has("audience") && aud == "":
		return "", oauthInvalid("invalid_target", "an empty resource or audience")
	case res != "" && aud != "" && res != aud:
		return "", oauthInvalid("invalid_target", "a token has one audience: resource and audience differ")
	case res == "" && aud == "":
		return issuer, nil
	case len(res) > 256 || len(aud) > 256:
		return "", oauthInvalid("invalid_target", "a resource or audience is at most 256 bytes")
	case res != "":
		u, err := url.Parse(res)
		if err != nil || !u.IsAbs() || u.Host == "" || strings.Contains(res, "#") {
			return "", oauthInvalid("invalid_target", "resource must be an absolute URI with a host and no fragment")
		}
		return res, nil
	}
	return aud, nil
}

// checkScope accepts no scope or the one scope the endpoint grants.
func checkScope(f url.Values) error {
	for _, sc := range strings.Fields(f.Get("scope")) {
		if sc != oauthScope {
			return oauthInvalid("invalid_scope", "the only scope is "+quote(oauthScope)+": narrow a token with caveat parameters")
		}
	}
	return nil
}

// openTenantOf opens into c.t the tenant that cred claims, as
// authenticate does for a bearer; the tenant's Client then verifies it.
func (s *Server) openTenantOf(c *call, cred string) error {
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
		if errors.Is(err, errNoTenant) {
			// Whether a tenant exists is not the caller's to learn.
			if strings.HasPrefix(cred, agenttrust.KeyPrefix) {
				return errs.BadSignature
			}
			return s.unknownTenant(ctx, cred, c.addr)
		}
		return err
	}
	c.t = t // held until the request ends
	return nil
}
