package mcp

import (
	"fmt"
	"strings"
	"unicode/utf8"

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
//   - a port, if any, without a leading zero (0443 is dialled as 443);
//   - only the characters a URI may hold (non-ASCII text, as UTF-8, is
//     left to agenttrust's checks of a resource), no fragment, and
//     percent-encoding only of characters that need it, in upper-case hex
//     (not %73 for 's', nor %2f);
//   - with template set, a URI template's braces are allowed too.
//
// A server reads the path net/url decodes, where "caf%C3%A9" is "café"
// and "a%28b%29" is "a(b)", and encoders write either (Go's url.URL
// writes both encoded): so the Resource holds the path with non-ASCII
// text and the characters a path may hold as themselves decoded (but '/'
// and '?'), the one spelling a policy names. The authority may encode
// none of them. The query is not part of the Resource: a server may read
// the same resource whatever query follows, so a rule on the resource
// holds for every query; it is the attribute "query" instead, as sent.
// Dot segments, empty segments and encoded separators are refused by the
// checker itself.
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
	// The path starts after the authority, if any: percent-encoding in
	// it is decoded as a server decodes it; in the authority it is
	// refused.
	pathStart := scheme + 1
	if strings.HasPrefix(uri[pathStart:], "//") {
		pathStart += 2
		if j := strings.IndexAny(uri[pathStart:], "/?#"); j >= 0 {
			pathStart += j
		} else {
			pathStart = len(uri)
		}
	}
	inQuery, decode := false, false
	for i := 0; i < len(uri); i++ {
		switch c := uri[i]; {
		case c == '#':
			return "", "", false, bad("has a fragment: leave it out")
		case c == '?' && !template:
			inQuery = true
		case c == '%':
			if i+2 >= len(uri) || !upperHex(uri[i+1]) || !upperHex(uri[i+2]) {
				return "", "", false, bad("holds percent-encoding that is not %%XX in upper-case hex")
			}
			switch d := unhex(uri[i+1])<<4 | unhex(uri[i+2]); {
			case unreserved(d):
				return "", "", false, bad("percent-encodes %q, which is written as itself", string(rune(d)))
			case inQuery || !decoded(d):
				// The query is an attribute, read as sent: there
				// '=' and '%3D' may mean different things.
			case i < pathStart:
				return "", "", false, bad("percent-encodes %q in its authority", string(rune(d)))
			default:
				decode = true
			}
		case c >= 0x80, unreserved(c), strings.IndexByte(pathChars, c) >= 0:
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
	if decode {
		// A server reads the path net/url decodes, where "caf%C3%A9" is
		// "café" and "a%28b%29" is "a(b)": the Resource is that one
		// text, as a policy names it, whichever spelling was sent.
		resource = decodePath(resource, pathStart)
		if !utf8.ValidString(resource) {
			return "", "", false, bad("percent-encodes bytes that are not UTF-8 text")
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
		if len(port) > 1 && port[0] == '0' {
			// Port 0443 is dialled as 443.
			return "", "", false, bad("has a port with a leading zero: leave it out")
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

// pathChars are the characters besides unreserved ones and non-ASCII
// text that a URI may hold as themselves.
const pathChars = ":/?[]@!$&'()*+,;="

// decoded reports whether the percent-encoding of d in a path is decoded
// into the Resource: non-ASCII text, and what a path holds as itself but
// '/' (whose encoding agenttrust's checks refuse) and '?' (which would
// start the query).
func decoded(d byte) bool {
	return d >= 0x80 || d != '/' && d != '?' && strings.IndexByte(pathChars, d) >= 0
}

// decodePath decodes, from start on, each %XX of r whose byte is
// decoded.
func decodePath(r string, start int) string {
	b := make([]byte, 0, len(r))
	b = append(b, r[:start]...)
	for i := start; i < len(r); i++ {
		if r[i] == '%' && i+2 < len(r) {
			if d := unhex(r[i+1])<<4 | unhex(r[i+2]); decoded(d) {
				b = append(b, d)
				i += 2
				continue
			}
		}
		b = append(b, r[i])
	}
	return string(b)
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
