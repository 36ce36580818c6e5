package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
	"github.com/agenttrust/agenttrust/store"
)

const resource = "https://mcp.example.com/mcp"

// httpServer serves srv over streamable HTTP behind auth.RequireBearerToken
// with TokenVerifier, and the protected resource metadata.
func httpServer(t *testing.T, c *agenttrust.Client, srv *sdk.Server, opts ...atmcp.VerifierOption) *httptest.Server {
	t.Helper()
	metaURL, err := atmcp.MetadataURL(resource)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(metaURL)
	mux := http.NewServeMux()
	mux.Handle(u.Path, atmcp.ProtectedResourceHandler(resource, "https://agenttrust.example.com"))
	mcpHandler := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil)
	mux.Handle("/mcp", auth.RequireBearerToken(atmcp.TokenVerifier(c, resource, opts...), &auth.RequireBearerTokenOptions{ResourceMetadataURL: metaURL})(mcpHandler))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func connectHTTP(ts *httptest.Server, token string) (*sdk.ClientSession, error) {
	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	return client.Connect(context.Background(), &sdk.StreamableClientTransport{
		Endpoint:   ts.URL + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}},
		MaxRetries: -1,
	}, nil)
}

// post sends one bare request with token and returns the status, the
// WWW-Authenticate header and the body.
func post(t *testing.T, ts *httptest.Server, token string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/mcp", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
}

func mintKey(t *testing.T, c *agenttrust.Client, agent string) (string, agenttrust.Key) {
	t.Helper()
	secret, key, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: agent})
	if err != nil {
		t.Fatal(err)
	}
	return secret, key
}

func mintJWT(t *testing.T, c *agenttrust.Client, apiKey, aud string, caveats ...string) string {
	t.Helper()
	tok, err := c.ExchangeJWT(context.Background(), apiKey, aud, caveats...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenVerifierOverHTTP(t *testing.T) {
	clk := &clock{}
	c := newClient(t, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource}}), agenttrust.WithClock(clk.Now))
	srv, ran := newServer(atmcp.ServerMiddleware(c))
	ts := httpServer(t, c, srv)
	apiKey, key := mintKey(t, c, "billing-bot")
	good := mintJWT(t, c, apiKey, resource)

	t.Run("good token", func(t *testing.T) {
		cs, err := connectHTTP(ts, good)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		res := call(t, cs, "payments.charge", map[string]any{"amount": 40})
		if res.IsError || ran.get("payments.charge") != 1 {
			t.Fatalf("IsError=%v text=%q", res.IsError, text(res))
		}
		// The handler sees the verified agent and the token, for onward
		// delegation.
		if ran.id.AgentID != "billing-bot" || ran.cred != good {
			t.Errorf("handler context: identity %+v, credential present %v", ran.id, ran.cred != "")
		}
		if res := call(t, cs, "customers.delete", nil); !res.IsError || ran.get("customers.delete") != 0 {
			t.Errorf("denied call over HTTP: IsError=%v text=%q", res.IsError, text(res))
		}
	})

	t.Run("caveats checked on every call", func(t *testing.T) {
		// The policy allows $40; the token itself allows at most $10.
		narrow := mintJWT(t, c, apiKey, resource, "attr.amount <= 10")
		cs, err := connectHTTP(ts, narrow)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		before := ran.get("payments.charge")
		if res := call(t, cs, "payments.charge", map[string]any{"amount": 40}); !res.IsError || !strings.Contains(text(res), "credential does not allow") {
			t.Errorf("IsError=%v text=%q", res.IsError, text(res))
		}
		if res := call(t, cs, "payments.charge", map[string]any{"amount": 5}); res.IsError {
			t.Errorf("within caveat: %q", text(res))
		}
		if ran.get("payments.charge") != before+1 {
			t.Error("handler count")
		}
	})

	t.Run("wrong audience", func(t *testing.T) {
		other := mintJWT(t, c, apiKey, "https://other.example.com/mcp")
		code, challenge, body := post(t, ts, other)
		if code != http.StatusUnauthorized || !strings.Contains(body, "wrong audience") {
			t.Errorf("status %d body %q", code, body)
		}
		if !strings.Contains(challenge, `resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`) {
			t.Errorf("WWW-Authenticate = %q", challenge)
		}
		if _, err := connectHTTP(ts, other); err == nil {
			t.Error("connected with a token for another audience")
		}
	})

	t.Run("expired", func(t *testing.T) {
		cs, err := connectHTTP(ts, good)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		clk.advance(defaultTokenTTL + time.Minute)
		defer clk.advance(-(defaultTokenTTL + time.Minute))
		code, _, body := post(t, ts, good)
		if code != http.StatusUnauthorized || !strings.Contains(body, "credential expired") {
			t.Errorf("status %d body %q", code, body)
		}
		// The open session stops too: every request carries the token.
		if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "calendar.read"}); err == nil {
			t.Error("call with an expired token succeeded")
		}
	})

	t.Run("revoked", func(t *testing.T) {
		cs, err := connectHTTP(ts, good)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if err := c.Revoke(context.Background(), key.ID); err != nil {
			t.Fatal(err)
		}
		code, _, body := post(t, ts, good)
		if code != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
			t.Errorf("status %d body %q", code, body)
		}
		if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "calendar.read"}); err == nil {
			t.Error("call with a revoked token succeeded")
		}
	})
}

func TestTokenVerifier(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource, "https://other.example.com/mcp"}}))
	apiKey, key := mintKey(t, c, "billing-bot")
	verify := atmcp.TokenVerifier(c, resource)
	r := httptest.NewRequest(http.MethodPost, resource, nil)
	r.RemoteAddr = "192.0.2.7:5555"

	ti, err := verify(ctx, mintJWT(t, c, apiKey, resource), r)
	if err != nil {
		t.Fatal(err)
	}
	if ti.UserID != "billing-bot" || !slices.Equal(ti.Scopes, []string{store.RoleAgent}) {
		t.Errorf("token info = %+v", ti)
	}
	if d := time.Until(ti.Expiration); d <= 0 || d > defaultTokenTTL {
		t.Errorf("expiration in %s", d)
	}
	if ti.Extra[atmcp.ExtraTenant] != agenttrust.DefaultTenant || ti.Extra[atmcp.ExtraKeyID] != key.ID ||
		!strings.HasPrefix(ti.Extra[atmcp.ExtraCredentialID].(string), "tok_") ||
		ti.Extra[atmcp.ExtraRemoteAddr] != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("extra = %v", ti.Extra)
	}

	macaroon, err := c.Exchange(ctx, apiKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		is    error
	}{
		// The client accepts both audiences; the verifier holds the token
		// to this server.
		{"token for another audience the client accepts", mintJWT(t, c, apiKey, "https://other.example.com/mcp"), errs.Audience},
		{"macaroon token", macaroon, errs.Audience},
		{"api key", apiKey, errs.UnsupportedCredential},
		{"garbage", "eyJhbGciOiJub25lIn0.e30.", agenttrust.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(ctx, tt.token, r)
			if !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want auth.ErrInvalidToken and %v", err, tt.is)
			}
			if err != nil && strings.Contains(err.Error(), tt.token) {
				t.Error("error message holds the token")
			}
		})
	}

	t.Run("unbound tokens when asked", func(t *testing.T) {
		ti, err := atmcp.TokenVerifier(c, resource, atmcp.UnsafeAcceptUnboundTokens())(ctx, macaroon, r)
		if err != nil || ti.UserID != "billing-bot" || ti.Expiration.IsZero() {
			t.Errorf("ti=%+v err=%v", ti, err)
		}
	})
	t.Run("misconfigured", func(t *testing.T) {
		for _, v := range []auth.TokenVerifier{
			atmcp.TokenVerifier(nil, resource),
			atmcp.TokenVerifier(c, "/mcp"),
			atmcp.TokenVerifier(c, resource+"#frag"),
		} {
			_, err := v(ctx, mintJWT(t, c, apiKey, resource), r)
			if err == nil || errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Errorf("err = %v, want a configuration error", err)
			}
		}
	})
	t.Run("store unavailable", func(t *testing.T) {
		down := authFunc(func(context.Context, string, netip.Addr) (agenttrust.Principal, error) {
			return agenttrust.Principal{}, fmt.Errorf("%w: dial tcp 10.0.0.5:5432: connection refused", agenttrust.ErrStoreUnavailable)
		})
		_, err := atmcp.TokenVerifier(down, resource)(ctx, mintJWT(t, c, apiKey, resource), r)
		// Not the token's fault: a 500, not a 401, and no detail.
		if errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, agenttrust.ErrStoreUnavailable) || strings.Contains(err.Error(), "10.0.0.5") {
			t.Errorf("err = %v", err)
		}
	})
}

type authFunc func(ctx context.Context, cred string, addr netip.Addr) (agenttrust.Principal, error)

func (f authFunc) Authenticate(ctx context.Context, cred string, addr netip.Addr) (agenttrust.Principal, error) {
	return f(ctx, cred, addr)
}

func TestProtectedResourceMetadata(t *testing.T) {
	for in, want := range map[string]string{
		"https://mcp.example.com/mcp":      "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		"https://mcp.example.com/":         "https://mcp.example.com/.well-known/oauth-protected-resource",
		"https://mcp.example.com":          "https://mcp.example.com/.well-known/oauth-protected-resource",
		"https://mcp.example.com/a/b?x=1":  "https://mcp.example.com/.well-known/oauth-protected-resource/a/b?x=1",
		"http://localhost:8080/tenant%2F1": "http://localhost:8080/.well-known/oauth-protected-resource/tenant%2F1",
	} {
		if got, err := atmcp.MetadataURL(in); err != nil || got != want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/mcp", "mcp.example.com", "https://mcp.example.com/mcp#x"} {
		if _, err := atmcp.MetadataURL(bad); !errors.Is(err, agenttrust.ErrInvalidConfig) {
			t.Errorf("MetadataURL(%q) err = %v", bad, err)
		}
	}

	c := newClient(t, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{resource}}))
	srv, _ := newServer()
	ts := httpServer(t, c, srv)
	resp, err := http.Get(ts.URL + atmcp.WellKnownPath + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		BearerMethods        []string `json:"bearer_methods_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	if meta.Resource != resource || !slices.Equal(meta.AuthorizationServers, []string{"https://agenttrust.example.com"}) || !slices.Equal(meta.BearerMethods, []string{"header"}) {
		t.Errorf("metadata = %+v", meta)
	}
}

// defaultTokenTTL is the lifetime of a token agenttrust mints unless
// configured otherwise.
const defaultTokenTTL = 5 * time.Minute
