package mcp_test

import (
	"context"
	"net"
	"net/url"
	"path"
	"strconv"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// TestAttackResourceURIAliases: spellings of a resource URI that passed
// the canonical check, yet name the very resource a deny rule names as
// a server reads it. A server reads the path net/url decodes (u.Path),
// which decodes every %XX: so "caf%C3%A9" is the file "café", and
// "a%28b%29" is "a(b)", while the check judged the spelling. Likewise a
// port with leading zeros is the port it spells without them (as net
// dials it), so https://host:0443/ is https://host/. The path is now
// checked decoded as a server decodes it (non-ASCII text, and what a
// path holds as itself), so the deny rules hold for every spelling, and
// a port with a leading zero is refused.
func TestAttackResourceURIAliases(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: read
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.resources/read"]
  - id: no-secret
    effect: deny
    tools: ["mcp.*"]
    resources:
      - "file:///data/café.txt"
      - "file:///data/a(b).txt"
      - "file:///data/x:y.txt"
      - "file:///data/me@home.txt"
      - "file:///data/a+b,c.txt"
      - "https://internal.example/*"
      - "https://internal.example:8443/*"
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p))
	srv := sdk.NewServer(&sdk.Implementation{Name: "files", Version: "v1"}, nil)
	secret := map[string]bool{
		"file:/data/café.txt": true, "file:/data/a(b).txt": true, "file:/data/x:y.txt": true,
		"file:/data/me@home.txt": true, "file:/data/a+b,c.txt": true,
		"https:internal.example:443": true, "https:internal.example:8443": true,
	}
	var leaked []string
	// A server of files and of web pages it fetches: a file by the path
	// net/url decodes, a page by the host and the port it would dial.
	srv.AddResourceTemplate(&sdk.ResourceTemplate{URITemplate: "{+uri}", Name: "any"},
		func(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			u, err := url.Parse(req.Params.URI)
			if err != nil {
				return nil, sdk.ResourceNotFoundError(req.Params.URI)
			}
			key := u.Scheme + ":" + path.Clean(u.Path)
			if u.Scheme == "https" {
				port, err := net.LookupPort("tcp", u.Port())
				if u.Port() == "" {
					port, err = 443, nil
				}
				if err != nil {
					return nil, sdk.ResourceNotFoundError(req.Params.URI)
				}
				key = "https:" + u.Hostname() + ":" + strconv.Itoa(port)
			}
			if secret[key] {
				leaked = append(leaked, req.Params.URI)
			}
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, Text: "contents"}}}, nil
		})
	srv.AddReceivingMiddleware(atmcp.ServerMiddleware(c))
	cs := connect(t, agentCtx, srv, nil)
	ctx := context.Background()

	// Controls: other resources are read, encoded where they must be,
	// and the deny rules hold for the spellings they name.
	for _, uri := range []string{"file:///data/report.txt", "file:///data/a%20b%3F%25.txt", "file:///data/b.txt?q=%3D%C3%A9", "file:///data/caf%C3%A9s.txt", "file:///data/a%28c%29.txt", "https://public.example/a", "https://internal.example:8080/"} {
		if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri}); err != nil {
			t.Fatalf("canonical read of %s: %v", uri, err)
		}
	}
	for _, uri := range []string{"file:///data/café.txt", "file:///data/a(b).txt", "https://internal.example/", "https://internal.example:8443/a"} {
		_, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
		assertDenied(t, err)
	}
	for _, uri := range []string{
		"file:///data/caf%C3%A9.txt",
		"file:///data/a%28b%29.txt",
		"file:///data/x%3Ay.txt",
		"file:///data/me%40home.txt",
		"file:///data/a%2Bb%2Cc.txt",
		"https://internal.example:0443/",
		"https://internal.example:00443/a",
		"https://internal.example:08443/a",
	} {
		t.Run(uri, func(t *testing.T) {
			leaked = nil
			_, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
			assertDenied(t, err)
			if len(leaked) > 0 {
				t.Errorf("the server read the secret for %q", uri)
			}
		})
	}
}
