package server

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
)

// jwks answers GET /.well-known/jwks.json: the public keys that verify
// JWTs minted here. Tenant Clients built with the same signing keys
// (agenttrust.TokenConfig.SigningKeys in WithClientOptions) share one set; without
// them each tenant has a key of its own, and the set lists those of the
// tenants open on this node.
func (s *Server) jwks(c *call) error {
	ts := *s.tenants.Load()
	if len(ts) == 0 {
		name := s.system
		if name == "" {
			name = agenttrust.DefaultTenant
		}
		t, err := s.tenant(c.r.Context(), name, false)
		if err != nil {
			return err
		}
		s.release(t)
		ts = *s.tenants.Load()
	}
	keys := map[string]ed25519.PublicKey{}
	for _, t := range ts {
		maps.Copy(keys, t.client.PublicKeys())
	}
	set := wire.JWKSet{Keys: []wire.JWK{}}
	for _, kid := range slices.Sorted(maps.Keys(keys)) {
		set.Keys = append(set.Keys, wire.JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(keys[kid]),
			Kid: kid, Alg: "EdDSA", Use: "sig"})
	}
	c.w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(c, http.StatusOK, set)
	return nil
}

// healthz answers GET /healthz: the process is up.
func (s *Server) healthz(c *call) error {
	writeJSON(c, http.StatusOK, wire.HealthResponse{Status: "ok"})
	return nil
}

// readyz answers GET /readyz: 200 when the store answers, no open
// tenant's audit is stuck and no tenant was refused for an audit chain
// cut or rewritten in the store, else 503 with what is wrong.
func (s *Server) readyz(c *call) error {
	out := wire.ReadyResponse{Status: "ready", Store: "ok", Audit: "ok"}
	ctx, cancel := context.WithTimeout(c.r.Context(), 2*time.Second)
	defer cancel()
	name := s.system
	if name == "" {
		name = agenttrust.DefaultTenant
	}
	if _, err := s.st.Policy(ctx, name); err != nil && !isNotFound(err) {
		out.Status, out.Store = "unavailable", errorCode(storeErr("ping", err))
		s.storeError(c.r.Context(), "")
	}
	for _, t := range *s.tenants.Load() {
		if !t.client.Stats().AuditHealthy {
			out.Status, out.Audit = "unavailable", "stuck"
			break
		}
	}
	if s.metrics.chainBreaks.Load() > 0 {
		// Until the operator has looked: the store was written behind
		// agenttrust's back.
		out.Status, out.Audit = "unavailable", "chain_broken"
	}
	status := http.StatusOK
	if out.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(c, status, out)
	return nil
}

// serveStoreAPI passes /v1/store/... to the handler given to WithStoreAPI,
// with the prefix stripped, once the caller is known to be an admin of
// the system tenant.
func (s *Server) serveStoreAPI(c *call) error {
	sw := &statusWriter{ResponseWriter: c.w}
	http.StripPrefix("/v1/store", s.storeAPI).ServeHTTP(sw, c.r)
	c.status = sw.status
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return nil
}

// statusWriter remembers the status a foreign handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
