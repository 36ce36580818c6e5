package mcp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackNarrowing: a JWT narrowed by a caveat on actions carries at
// most the agent scope, whatever its root key's roles, so a route that
// demands the admin or approver scope refuses it.
func TestAttackNarrowing(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource}}))
	verify := atmcp.TokenVerifier(c, resource)
	r := httptest.NewRequest(http.MethodPost, resource, nil)
	mk := func(agent string, roles ...string) string {
		secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: agent, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	admin, approver := mk("ops", store.RoleAdmin), mk("carol", store.RoleApprover)
	for _, tc := range []struct {
		name   string
		tok    string
		scopes []string
	}{
		{"admin JWT, tool caveat", mintJWT(t, c, admin, resource, "tool in calendar.read"), []string{store.RoleAgent}},
		{"admin JWT, attribute caveat", mintJWT(t, c, admin, resource, "attr.amount <= 1"), []string{store.RoleAgent}},
		{"approver JWT, session caveat", mintJWT(t, c, approver, resource, "session = s1"), nil},
		{"control admin JWT", mintJWT(t, c, admin, resource), []string{store.RoleAdmin}},
		{"control admin JWT with an expiry caveat", mintJWT(t, c, admin, resource, "expires < 2099-01-01T00:00:00Z"), []string{store.RoleAdmin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti, err := verify(ctx, tc.tok, r)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ti.Scopes, tc.scopes) {
				t.Fatalf("scopes %v, want %v", ti.Scopes, tc.scopes)
			}
			// A resource server demanding the admin scope lets only the
			// unnarrowed admin through.
			h := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{Scopes: []string{store.RoleAdmin}})(
				http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			req := httptest.NewRequest(http.MethodPost, resource, nil)
			req.Header.Set("Authorization", "Bearer "+tc.tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			wantAdmin := slices.Contains(tc.scopes, store.RoleAdmin)
			if wantAdmin && w.Code != http.StatusNoContent || !wantAdmin && w.Code != http.StatusForbidden {
				t.Fatalf("admin-scoped route: %d", w.Code)
			}
		})
	}
}
