package mcp_test

import (
	"context"
	"net/url"
	"path"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// TestAttackResourceURIForms: a resource URI has many spellings of one
// file, and a server reads the file, not the spelling. Under a policy
// that lets the agent read anything but file:///data/secret.txt, the
// check judged the URI as sent, so every other spelling of the secret
// escaped the deny rule, and a file server that reads the path
// net/url finds (as most do) handed it over: the scheme in upper case,
// file: without "//", a host of localhost, a percent-encoded letter, a
// fragment, a query string, a user name. Spellings the core already
// refuses (dot segments, encoded ones, "//") stay refused. A URI that is
// not in its one canonical form is now refused as invalid, and a query
// is an attribute, not part of the Resource, so the deny rule holds
// whatever query follows.
func TestAttackResourceURIForms(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: read
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.resources/read", "mcp.resources/subscribe"]
  - id: no-secret
    effect: deny
    tools: ["mcp.*"]
    resources: ["file:///data/secret.txt"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p))
	srv := sdk.NewServer(&sdk.Implementation{Name: "files", Version: "v1"}, nil)
	var leaked []string
	files := map[string]string{"/data/secret.txt": "the secret", "/data/report.txt": "a report"}
	// A file server: everything under file:, read by the path net/url
	// finds in the URI.
	srv.AddResourceTemplate(&sdk.ResourceTemplate{URITemplate: "{+uri}", Name: "files"},
		func(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			u, err := url.Parse(req.Params.URI)
			if err != nil || u.Scheme != "file" {
				return nil, sdk.ResourceNotFoundError(req.Params.URI)
			}
			text, ok := files[path.Clean(u.Path)]
			if !ok {
				return nil, sdk.ResourceNotFoundError(req.Params.URI)
			}
			if path.Clean(u.Path) == "/data/secret.txt" {
				leaked = append(leaked, req.Params.URI)
			}
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, Text: text}}}, nil
		})
	srv.AddReceivingMiddleware(atmcp.ServerMiddleware(c))
	cs := connect(t, agentCtx, srv, nil)
	ctx := context.Background()

	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/report.txt"}); err != nil {
		t.Fatalf("canonical read: %v", err)
	}
	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/report.txt?version=2"}); err != nil {
		t.Fatalf("canonical read with a query: %v", err)
	}
	for _, uri := range []string{
		"FILE:///data/secret.txt",
		"File:///data/secret.txt",
		"file:/data/secret.txt",
		"file://localhost/data/secret.txt",
		"file://LOCALHOST/data/secret.txt",
		"file://user@/data/secret.txt",
		"file:///data/%73ecret.txt",
		"file:///data/secret%2etxt",
		"file:///data/secret.txt#top",
		"file:///data/secret.txt?",
		"file:///data/secret.txt?version=2",
		"file:///data/./secret.txt",
		"file:///data/%2e/secret.txt",
		"file:///data//secret.txt",
		"file:///data/x/../secret.txt",
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

	// Subscriptions name resources the same way.
	mw := atmcp.ServerMiddleware(c)(func(context.Context, string, sdk.Request) (sdk.Result, error) { return nil, nil })
	for _, tt := range []struct {
		name   string
		method string
		req    sdk.Request
	}{
		{"subscribe FILE:", "resources/subscribe", &sdk.SubscribeRequest{Params: &sdk.SubscribeParams{URI: "FILE:///data/secret.txt"}}},
		{"subscribe with a query", "resources/subscribe", &sdk.SubscribeRequest{Params: &sdk.SubscribeParams{URI: "file:///data/secret.txt?x"}}},
		{"listen to file:", "subscriptions/listen", &sdk.SubscriptionsListenRequest{Params: &sdk.SubscriptionsListenParams{Notifications: &sdk.NotificationSubscriptions{
			ResourceSubscriptions: []string{"file:///data/report.txt", "file:/data/secret.txt"},
		}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mw(agentCtx, tt.method, tt.req)
			assertDenied(t, err)
		})
	}
}
