package mcp_test

import (
	"context"
	"net/url"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// TestAttackResourceURIPortAndPath: an http(s) URI has spellings of its
// own (RFC 3986 section 6.2.3): the scheme's default port written out or
// left empty, an empty path for "/", a host with the root's trailing
// dot. A server that reads by host and path (as net/url's Hostname and
// Path give them) serves https://wiki.example.com:443/secret as
// https://wiki.example.com/secret, which a deny rule names; they are
// refused as not canonical.
func TestAttackResourceURIPortAndPath(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: read
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.resources/read"]
  - id: no-secret
    effect: deny
    tools: ["mcp.*"]
    resources: ["https://wiki.example.com/secret", "https://wiki.example.com/"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p))
	srv := sdk.NewServer(&sdk.Implementation{Name: "wiki", Version: "v1"}, nil)
	var leaked []string
	pages := map[string]string{"/secret": "the secret", "/": "the index", "/public": "a page"}
	srv.AddResourceTemplate(&sdk.ResourceTemplate{URITemplate: "{+uri}", Name: "wiki"},
		func(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			u, err := url.Parse(req.Params.URI)
			if err != nil || u.Scheme != "https" || u.Hostname() != "wiki.example.com" && u.Hostname() != "wiki.example.com." {
				return nil, sdk.ResourceNotFoundError(req.Params.URI)
			}
			page := u.Path
			if page == "" {
				page = "/"
			}
			text, ok := pages[page]
			if !ok {
				return nil, sdk.ResourceNotFoundError(req.Params.URI)
			}
			if page != "/public" {
				leaked = append(leaked, req.Params.URI)
			}
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, Text: text}}}, nil
		})
	srv.AddReceivingMiddleware(atmcp.ServerMiddleware(c))
	cs := connect(t, agentCtx, srv, nil)
	ctx := context.Background()

	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "https://wiki.example.com/public"}); err != nil {
		t.Fatalf("canonical read: %v", err)
	}
	for _, uri := range []string{
		"https://wiki.example.com:443/secret",
		"https://wiki.example.com:/secret",
		"https://wiki.example.com./secret",
		"https://wiki.example.com",
		"https://wiki.example.com:443",
	} {
		t.Run(uri, func(t *testing.T) {
			leaked = nil
			_, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
			assertDenied(t, err)
			if len(leaked) > 0 {
				t.Errorf("the server served %q", uri)
			}
		})
	}
}
