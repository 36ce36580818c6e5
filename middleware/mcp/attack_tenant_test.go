package mcp_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackVerifierOtherTenant: an MCP server of tenant "acme" verifies
// bearers through the central server with its gateway key (remote.Client,
// as examples/mcp-http does). An agent of another tenant of the same
// central server gets a JWT for the acme MCP server's resource URI from
// /oauth/token: the verifier must not accept it (SECURITY.md §9).
func TestAttackVerifierOtherTenant(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	const resource = "https://mcp.acme.example/mcp"
	at, err := server.New(memory.New(), server.WithIssuer(issuer),
		server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource}})))
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: at, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close(); at.Close() })

	acme, err := at.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	gatewayKey, _, err := acme.CreateKey(ctx, agenttrust.KeySpec{AgentID: "mcp-gateway", Roles: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	// The attacker's own tenant, with an agent named like acme's.
	evil, err := at.Client(ctx, "evil")
	if err != nil {
		t.Fatal(err)
	}
	evilKey, _, err := evil.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Roles: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"billing-bot"},
		"client_secret": {evilKey}, "resource": {resource}}
	resp, err := http.Post(issuer+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d", resp.StatusCode)
	}

	central, err := remote.New(issuer, gatewayKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { central.Close() })
	verify := atmcp.TokenVerifier(central, resource)
	ti, err := verify(ctx, tok.AccessToken, httptest.NewRequest(http.MethodPost, resource, nil))
	if err == nil {
		t.Fatalf("acme's MCP server accepted a JWT of tenant %v as agent %q (scopes %v)",
			ti.Extra[atmcp.ExtraTenant], ti.UserID, ti.Scopes)
	}
}
