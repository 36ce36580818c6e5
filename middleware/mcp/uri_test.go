package mcp

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

func TestResourceURI(t *testing.T) {
	tests := []struct {
		uri, resource, query string
		template             bool
		ok                   bool
	}{
		{uri: "file:///data/a.txt", resource: "file:///data/a.txt", ok: true},
		{uri: "https://example.com/a%20b?x=1&y=%C3%A9", resource: "https://example.com/a%20b", query: "x=1&y=%C3%A9", ok: true},
		{uri: "urn:isbn:0451450523", resource: "urn:isbn:0451450523", ok: true},
		{uri: "db://records/42", resource: "db://records/42", ok: true},
		{uri: "file:///caf\u00e9", resource: "file:///caf\u00e9", ok: true},
		{uri: "file:///data/{name}", resource: "file:///data/{name}", template: true, ok: true},
		{uri: "search://q{?term}", resource: "search://q{?term}", template: true, ok: true},
		{uri: "file:///data/{name}"},
		{uri: ""},
		{uri: "data/a.txt"},
		{uri: ":a"},
		{uri: "1file:///a"},
		{uri: "Https://example.com/"},
		{uri: "https://Example.com/"},
		{uri: "https://u:p@example.com/"},
		{uri: "file://host/a"},
		{uri: "file:a"},
		{uri: "file:/a"},
		{uri: "file:///a#b"},
		{uri: "file:///a%7e"},
		{uri: "file:///a%7E"},
		{uri: "file:///a%2f"},
		{uri: "file:///a%"},
		{uri: "file:///a%4"},
		{uri: "file:///a b"},
		{uri: "file:///a\\b"},
		{uri: "file:///a\x00"},
		{uri: "file:///a<b>"},
		{uri: "https://example.com:8443/a", resource: "https://example.com:8443/a", ok: true},
		{uri: "https://[::1]:8443/a", resource: "https://[::1]:8443/a", ok: true},
		{uri: "https://[::1]/a", resource: "https://[::1]/a", ok: true},
		{uri: "db://x:443", resource: "db://x:443", ok: true},
		{uri: "https://example.com:443/a"},
		{uri: "http://example.com:80/a"},
		{uri: "wss://example.com:443/a"},
		{uri: "https://example.com:/a"},
		{uri: "https://example.com./a"},
		{uri: "https://example.com"},
		{uri: "https://example.com?x"},
		{uri: "https://[::1]:/a"},
		{uri: "file:///a%28b%29", resource: "file:///a(b)", ok: true},
		{uri: "file:///caf%C3%A9", resource: "file:///caf\u00e9", ok: true},
		{uri: "https://h/a%3A%40%2B%2C?x=%3A", resource: "https://h/a:@+,", query: "x=%3A", ok: true},
		{uri: "urn:x:a%28", resource: "urn:x:a(", ok: true},
		{uri: "file:///a%2F%3F%23%25", resource: "file:///a%2F%3F%23%25", ok: true},
		{uri: "file:///%FF"},
		{uri: "file:///%C3"},
		{uri: "https://ex%28ample.com/"},
		{uri: "https://ex%C3%A9.com/"},
		{uri: "https://example.com:0443/a"},
		{uri: "https://example.com:08443/a"},
		{uri: "file:///a%3F%25%20?b=%3D%C3%A9", resource: "file:///a%3F%25%20", query: "b=%3D%C3%A9", ok: true},
		{uri: "https://example.com:0/a", resource: "https://example.com:0/a", ok: true},
	}
	for _, tt := range tests {
		res, q, _, err := resourceURI(tt.uri, tt.template)
		if !tt.ok {
			if err == nil || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("resourceURI(%q) = %q, %v; want ErrInvalidRequest", tt.uri, res, err)
			}
			continue
		}
		if err != nil || res != tt.resource || q != tt.query {
			t.Errorf("resourceURI(%q) = %q, %q, %v; want %q, %q", tt.uri, res, q, err, tt.resource, tt.query)
		}
	}
}

// FuzzResourceURI: what resourceURI accepts is its own canonical form:
// accepted again unchanged, with a lower-case scheme and no fragment.
func FuzzResourceURI(f *testing.F) {
	for _, s := range []string{"file:///data/a.txt", "FILE:///a", "https://example.com/a%20b?x", "file://localhost/a", "urn:x:y", "file:///a%7e#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		res, q, hasQuery, err := resourceURI(uri, false)
		if err != nil {
			return
		}
		if again, _, _, err := resourceURI(res, false); err != nil || again != res {
			t.Fatalf("resourceURI(%q) = %q, but that gives %q, %v", uri, res, again, err)
		}
		scheme, _, _ := strings.Cut(res, ":")
		if strings.ToLower(scheme) != scheme || strings.ContainsAny(res, "#?") {
			t.Fatalf("resourceURI(%q) = %q", uri, res)
		}
		// The resource is uri's up to the query, its path decoded
		// where a server decodes it.
		sent, _, _ := strings.Cut(uri, "?")
		if hasQuery && sent+"?"+q != uri || len(res) > len(sent) || !hasQuery && strings.Contains(uri, "?") {
			t.Fatalf("resourceURI(%q) = %q, %q", uri, res, q)
		}
		if u, err := url.Parse(sent); err == nil {
			if v, err := url.Parse(res); err != nil || v.Path != u.Path {
				t.Fatalf("resourceURI(%q) = %q: a server reads another path", uri, res)
			}
		}
	})
}
