package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

func (s *Server) whoami(c *call) error {
	writeJSON(c, http.StatusOK, wire.PrincipalView{
		Tenant: c.p.Tenant, AgentID: c.p.AgentID, KeyID: c.p.KeyID, CredentialID: c.p.CredentialID,
		HopIDs: nonNil(c.p.HopIDs), Roles: nonNil(c.p.Roles), Caveats: nonNil(c.p.Caveats),
	})
	return nil
}

// createKey answers POST /v1/keys: a key for an agent of the caller's
// tenant. The secret is in this response and nowhere else.
func (s *Server) createKey(c *call) error {
	var req wire.CreateKeyRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if err := validID("agent_id", req.AgentID, ""); err != nil {
		return err
	}
	spec := agenttrust.KeySpec{
		AgentID: req.AgentID, Name: req.Name, Roles: req.Roles,
		AllowedIPs: req.AllowedIPs, Caveats: req.Caveats,
	}
	if req.ExpiresAt != nil {
		spec.ExpiresAt = *req.ExpiresAt
	}
	secret, k, err := c.t.client.CreateKey(c.r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusCreated, wire.CreateKeyResponse{Secret: secret, Key: viewKey(k, false)})
	return nil
}

// createTenantKey answers POST /v1/tenants/{tenant}/keys: an admin of the
// system tenant creates the first admin key of a tenant, which has no
// live admin key yet (none ever, or all revoked or expired). From then on
// the tenant's own admins manage it.
func (s *Server) createTenantKey(c *call) error {
	name := c.r.PathValue("tenant")
	if err := validTenant(name); err != nil {
		return badRequest("invalid_id", err.Error())
	}
	var req wire.TenantKeyRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if err := validID("agent_id", req.AgentID, ""); err != nil {
		return err
	}
	ctx := c.r.Context()
	live, err := s.hasLiveAdmin(c, name)
	if err != nil {
		return err
	}
	if live {
		return &apiError{status: http.StatusConflict, code: "conflict",
			msg: "tenant " + quote(name) + " already has an admin key; its admins create further keys"}
	}
	t, err := s.tenant(ctx, name, false)
	if err != nil {
		return err
	}
	defer s.release(t)
	spec := agenttrust.KeySpec{AgentID: req.AgentID, Name: req.Name, Roles: []string{store.RoleAdmin}, AllowedIPs: req.AllowedIPs}
	if req.ExpiresAt != nil {
		spec.ExpiresAt = *req.ExpiresAt
	}
	secret, k, err := t.client.CreateKey(ctx, spec)
	if err != nil {
		return err
	}
	s.log.Info("agenttrust/server: tenant admin key created", "tenant", name, "key", k.ID, "by", c.p.KeyID, "request_id", c.reqID)
	writeJSON(c, http.StatusCreated, wire.CreateKeyResponse{Secret: secret, Key: viewKey(k, false)})
	return nil
}

// hasLiveAdmin reports whether tenant has an admin key that is neither
// expired nor revoked.
func (s *Server) hasLiveAdmin(c *call, tenant string) (bool, error) {
	ctx := c.r.Context()
	ks, err := s.st.Keys(ctx, tenant)
	if err != nil {
		return false, storeErr("list keys", err)
	}
	now := s.now()
	for _, k := range ks {
		if !hasRole(k.Roles, store.RoleAdmin) || !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
			continue
		}
		_, blocked, err := s.st.Blocked(ctx, tenant, []string{k.ID, k.AgentID})
		if err != nil {
			return false, storeErr("revocation lookup", err)
		}
		if !blocked {
			return true, nil
		}
	}
	return false, nil
}

func hasRole(roles []string, role string) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}

func (s *Server) listKeys(c *call) error {
	ctx := c.r.Context()
	ks, err := c.t.client.ListKeys(ctx)
	if err != nil {
		return err
	}
	revoked, err := s.revokedIDs(c)
	if err != nil {
		return err
	}
	out := wire.KeyList{Keys: make([]wire.KeyView, 0, len(ks))}
	for _, k := range ks {
		out.Keys = append(out.Keys, viewKey(k, revoked[k.ID]))
	}
	writeJSON(c, http.StatusOK, out)
	return nil
}

// revokedIDs returns the ids revoked in the caller's tenant.
func (s *Server) revokedIDs(c *call) (map[string]bool, error) {
	bs, err := s.st.Blocks(c.r.Context(), c.p.Tenant)
	if err != nil {
		return nil, storeErr("list revocations", err)
	}
	m := make(map[string]bool, len(bs))
	for _, b := range bs {
		if b.Kind == store.Revoked {
			m[b.ID] = true
		}
	}
	return m, nil
}

// revokeKey answers POST /v1/keys/{id}/revoke: the key and every token
// derived from it stop working.
func (s *Server) revokeKey(c *call) error {
	id := c.r.PathValue("id")
	if err := validID("key id", id, "key_"); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	ctx := c.r.Context()
	if _, err := s.st.Key(ctx, c.p.Tenant, id); err != nil {
		if isNotFound(err) {
			return notFound("no key " + quote(id) + " in this tenant")
		}
		return storeErr("key lookup", err)
	}
	if err := c.t.client.Revoke(ctx, id); err != nil {
		return err
	}
	noContent(c)
	return nil
}

// exchange answers POST /v1/tokens: the caller's API key (the bearer)
// traded for a short-lived token, a macaroon or a JWT.
func (s *Server) exchange(c *call) error {
	var req wire.ExchangeRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if !strings.HasPrefix(c.bearer, agenttrust.KeyPrefix) {
		return badRequest("invalid_request", "exchange needs the API key to exchange as the bearer credential")
	}
	ctx := c.r.Context()
	switch req.Format {
	case "", "macaroon":
		if req.Audience != "" {
			return badRequest("invalid_request", "audience applies to format \"jwt\" only")
		}
		tok, err := c.t.client.Exchange(ctx, c.bearer, req.Caveats...)
		if err != nil {
			return err
		}
		info, err := agenttrust.InspectTokenUnverified(tok)
		if err != nil {
			return err
		}
		writeJSON(c, http.StatusCreated, wire.TokenResponse{Token: tok, Format: "macaroon", TokenID: info.ID, ExpiresAt: info.ExpiresAt})
	case "jwt":
		if req.Audience == "" {
			return missing("audience")
		}
		tok, err := c.t.client.ExchangeJWT(ctx, c.bearer, req.Audience, req.Caveats...)
		if err != nil {
			return err
		}
		id, exp := jwtIDExpiry(tok)
		writeJSON(c, http.StatusCreated, wire.TokenResponse{Token: tok, Format: "jwt", TokenID: id, ExpiresAt: exp})
	default:
		return badRequest("invalid_request", "format must be \"macaroon\" or \"jwt\"")
	}
	return nil
}

// jwtIDExpiry reads jti and exp from a JWT this server just signed.
func jwtIDExpiry(tok string) (string, time.Time) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", time.Time{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", time.Time{}
	}
	var claims struct {
		ID  string `json:"jti"`
		Exp int64  `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return "", time.Time{}
	}
	return claims.ID, time.Unix(claims.Exp, 0).UTC()
}

// delegate answers POST /v1/tokens/delegate: a token narrowed by a new
// hop, recorded in the store. An agent delegates its own tokens only.
func (s *Server) delegate(c *call) error {
	var req wire.DelegateRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	tok := req.Token
	if tok == "" {
		if !strings.HasPrefix(c.bearer, agenttrust.TokenPrefix) {
			return missing("token")
		}
		tok = c.bearer
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > 24*3600 {
		return badRequest("invalid_request", "ttl_seconds must be between 0 and 86400")
	}
	info, err := agenttrust.InspectTokenUnverified(tok)
	if err != nil {
		return err
	}
	if info.Tenant != c.p.Tenant {
		return notFound("no such token in this tenant")
	}
	if !c.isAdmin() && info.AgentID != c.p.AgentID {
		return forbidden("an agent may only delegate its own tokens")
	}
	if !within(info, c.p) {
		// Delegation by a narrowed credential only narrows: the token
		// must carry every caveat and hop of the caller already.
		return forbidden("a narrowed credential may only delegate tokens at least as narrow as itself")
	}
	// Delegate verifies the token (signature, tenant, expiry, revocation)
	// before it records anything, so the checks above, made on what the
	// token claims, hold once it succeeds.
	out, hop, err := c.t.client.Delegate(c.r.Context(), tok, time.Duration(req.TTLSeconds)*time.Second, req.Caveats...)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusCreated, wire.DelegateResponse{Token: out, Hop: viewHop(hop)})
	return nil
}

// inspect answers POST /v1/tokens/inspect: what a token of the caller's
// tenant says about itself, never its signature. It does not verify the
// token: use check for that.
func (s *Server) inspect(c *call) error {
	var req wire.InspectRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if req.Token == "" {
		return missing("token")
	}
	info, err := agenttrust.InspectTokenUnverified(req.Token)
	if err != nil {
		return err
	}
	if info.Tenant != c.p.Tenant {
		return notFound("no such token in this tenant")
	}
	if !c.isAdmin() && info.AgentID != c.p.AgentID {
		return forbidden("an agent may only inspect its own tokens")
	}
	writeJSON(c, http.StatusOK, wire.TokenInfo{
		ID: info.ID, KeyID: info.KeyID, Tenant: info.Tenant, AgentID: info.AgentID,
		ExpiresAt: info.ExpiresAt, HopIDs: nonNil(info.HopIDs), Caveats: nonNil(info.Caveats),
	})
	return nil
}

// within reports whether token info carries every action caveat and hop
// of p, so that whatever is derived from it is no wider than p.
func within(info agenttrust.TokenInfo, p agenttrust.Principal) bool {
	for _, want := range p.Caveats {
		if !slices.Contains(info.Caveats, want) {
			return false
		}
	}
	for _, want := range p.HopIDs {
		if !slices.Contains(info.HopIDs, want) {
			return false
		}
	}
	return true
}
