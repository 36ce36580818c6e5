package mcp

import (
	"fmt"
	"strings"

	"github.com/agenttrust/agenttrust"
)

// resourceURI returns the Resource of a request naming uri, and its query
// (the text after the first '?', and whether there is one), or why uri is
// refused. A server reads the resource a URI names, not the spelling, and
// a URI has many spellings of one resource; a rule that denies one
// spelling must hold for all. So uri must be in its one canonical form
// (RFC 3986 section 6.2.2, and RFC 8089 for file:), and anything else is
// refused rather than judged in a form the server may not read it in:
//
//   - absolute, with a scheme, in lower case, and an authority (host), if
//     any, in lower case, without a user name, a trailing '.' or an empty
//     port; a file URI is file:///path (not file:/path, nor
//     file://localhost/path); an http, https, ws or wss URI has a path
//     ("/", not empty) and does not write its scheme's default port;
//   - only the characters a URI may hold (non-ASCII text is left to
//     agenttrust's checks of a resource), no fragment, and percent-
//     encoding only of characters that need it, in upper-case hex (not
//     %73 for 's', nor %2f);
//   - with template set, a URI template's braces are allowed too.
//
// The query is not part of the Resource: a server may read the same
// resource whatever query follows, so a rule on the resource holds for
// every query; it is the attribute "query" instead. Dot segments, empty
// segments and encoded separators are refused by the checker itself.
func resourceURI(uri string, template bool) (resource, query string, hasQuery bool, err error) {
	bad := func(format string, args ...any) error {
		return denial("invalid resource URI", fmt.Errorf("%w: resource URI %q "+format, append([]any{agenttrust.ErrInvalidRequest, uri}, args...)...))
	}
	scheme := 0
	for scheme < len(uri) && uri[scheme] != ':' {
		c := uri[scheme]
		if !(c >= 'a' && c <= 'z' || scheme > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			if c >= 'A' && c <= 'Z' {
				return "", "", false, bad("has its scheme in upper case: spell it in lower case")
			}
			return "", "", false, bad("is not an absolute URI (scheme:...)")
		}
		scheme++
	}
	if scheme == 0 || scheme == len(uri) {
		return "", "", false, bad("is not an absolute URI (scheme:...)")
	}
	for i := 0; i < len(uri); i++ {
		switch c := uri[i]; {
		case c == '#':
			return "", "", false, bad("has a fragment: leave it out")
		case c == '%':
			if i+2 >= len(uri) || !upperHex(uri[i+1]) || !upperHex(uri[i+2]) {
				return "", "", false, bad("holds percent-encoding that is not %%XX in upper-case hex")
			}
			if d := unhex(uri[i+1])<<4 | unhex(uri[i+2]); unreserved(d) {
				return "", "", false, bad("percent-encodes %q, which is written as itself", string(rune(d)))
			}
		case c >= 0x80, unreserved(c), strings.IndexByte(":/?[]@!$&'()*+,;=", c) >= 0:
		case template && (c == '{' || c == '}'):
		default:
			return "", "", false, bad("holds %q, which a URI may not", string(rune(c)))
		}
	}
	resource = uri
	if !template {
		if q := strings.IndexByte(uri, '?'); q >= 0 {
			resource, query, hasQuery = uri[:q], uri[q+1:], true
		}
	}
	name, rest := resource[:scheme], resource[scheme+1:]
	auth, ok := strings.CutPrefix(rest, "//")
	if !ok {
		if name == "file" {
			return "", "", false, bad("is not file:///path")
		}
		return resource, query, hasQuery, nil
	}
	path := ""
	if i := strings.IndexByte(auth, '/'); i >= 0 {
		auth, path = auth[:i], auth[i:]
	}
	host, port := auth, ""
	if i := strings.LastIndexByte(auth, ':'); i > strings.LastIndexByte(auth, ']') {
		host, port = auth[:i], auth[i+1:]
		if port == "" {
			return "", "", false, bad("has an empty port: leave the ':' out")
		}
	}
	switch {
	case strings.IndexByte(auth, '@') >= 0:
		return "", "", false, bad("names a user: leave it out")
	case strings.ToLower(auth) != auth:
		return "", "", false, bad("has its host in upper case: spell it in lower case")
	case strings.HasSuffix(host, "."):
		return "", "", false, bad("has a host ending in '.': leave it out")
	case name == "file" && auth != "":
		return "", "", false, bad("names a host: a file URI is file:///path")
	}
	if def := defaultPort(name); def != "" {
		switch {
		case port == def:
			return "", "", false, bad("names the default port %s: leave it out", def)
		case path == "":
			return "", "", false, bad("has an empty path: write it as \"/\"")
		}
	}
	return resource, query, hasQuery, nil
}

// defaultPort is the port of a scheme whose URIs leave their default
// port out and write an empty path as "/" (RFC 3986 section 6.2.3), or
// "" for another scheme.
func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// unreserved reports whether c is a character a URI never needs to
// percent-encode (RFC 3986 section 2.3).
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func upperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}
