// Package a2a carries an agent's authority from one agent to another over
// HTTP, narrowing it at every hop.
//
// # Sending
//
// Transport is an http.RoundTripper for the calling agent's HTTP client.
// For each request it takes the caller's token from the request's context
// (agenttrust.CredentialFrom: the middleware.HTTP in front of the caller
// put it there, or the caller's own agenttrust.WithCredential), attenuates
// it offline with agenttrust.Attenuate (a fresh "hop = <id>" caveat plus
// the caveats Transport.Caveats chooses for this callee) and sends the
// result as "Authorization: Bearer". The callee can do at most what the
// caller could, and no more than those caveats allow. An API key is never
// forwarded, and the caller's request is never modified. A redirect that
// leads to another origin (scheme, host and port) is followed without any
// token; one within the origin gets the token of the request it follows,
// narrowed by a fresh hop.
//
// # Receiving
//
// The callee is an HTTP service behind middleware.HTTP: it verifies the
// token, checks the call (the caveats of every hop included) and hands its
// handler a context carrying the narrowed token, ready to delegate onward
// through another Transport. Decision.HopIDs lists the hops the token
// passed through, oldest first; revoking one of them with Client.Revoke
// stops that hop and every hop below it, while sibling branches live on.
//
// # a2a-go
//
// github.com/a2aproject/a2a-go/v2 needs no adapter: give its client this
// Transport (a2aclient.WithJSONRPCTransport or WithRESTTransport with an
// &http.Client{Transport: &a2a.Transport{...}}), whose requests carry the
// caller's context, and put middleware.HTTP in front of the handler
// a2asrv.NewJSONRPCHandler or NewRESTHandler returns. TestA2AGoClientAndServer
// (in the bench module, bench/a2a, so that this module does not require
// a2a-go) drives a2a-go's own client and server wired this way: a narrowed call
// reaches the agent with the Decision in its context, and a call the
// caveats forbid, one without a credential and one under a revoked token
// never do.
package a2a

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/plainhttp"
)

var (
	// ErrNoCredential: the request's context carries no credential to
	// delegate.
	ErrNoCredential = fmt.Errorf("%w: no credential in the request context to delegate", agenttrust.ErrUnauthorized)
	// ErrAPIKey: the credential in the context is an API key, which never
	// leaves its owner; exchange it for a token first.
	ErrAPIKey = fmt.Errorf("%w: refusing to send an API key to another agent; exchange it for a token", errs.UnsupportedCredential)
	// ErrInsecureTransport: the request would send a token in clear text
	// to a host other than this machine.
	ErrInsecureTransport = errors.New("agenttrust: refusing to send a token over plain http to a remote host")
)

// Transport is an http.RoundTripper that sends, with each request, the
// caller's token narrowed for the callee. Every request gets a hop of its
// own, so the audit trail shows each call and revoking a hop id stops only
// that call's branch. Use it only in clients that call agents the caller
// means to delegate to: whoever receives the token can act within it.
//
// Redirects: a request http.Client makes to follow a redirect gets a token
// (a fresh hop, with Caveats asked about it) only while every request of its
// chain has stayed within the origin (scheme, host and port) of the first.
// That token is narrowed from the one the request it follows carried, not
// from the caller's, so it holds the caveats of every request of the chain:
// a callee that redirects to another path of its origin passes on no more
// than it was given, whatever Caveats chooses for that path.
// Once the chain leaves that origin, even to come back, the Transport sends
// the request with no Authorization at all (neither a token nor one the
// caller set) and does not call Caveats for it, so a callee or an open
// redirect on its host cannot hand the token to another host. A redirect
// whose chain it cannot trace (Response.Request is nil) is treated the same.
//
// The zero value is usable: it adds only the hop caveat and sends through
// http.DefaultTransport. A Transport is safe for concurrent use if Base
// and Caveats are.
type Transport struct {
	// Base sends the request; nil means http.DefaultTransport.
	Base http.RoundTripper

	// Caveats, if set, returns the caveats to add for this request, such
	// as "tool in research.*" or "expires < 2026-11-22T05:02:00Z", in the
	// grammar of agenttrust caveats. A caveat that does not parse fails
	// the request.
	Caveats func(r *http.Request) []string

	// InsecureAllowHTTP lets tokens travel over plain http to hosts other
	// than loopback ones, for networks that encrypt by other means (a
	// service mesh). Loopback addresses and "localhost" are always
	// allowed, unless Base is an *http.Transport whose Proxy sends the
	// request to a proxy off this machine.
	InsecureAllowHTTP bool
}

// RoundTrip implements http.RoundTripper. It sends a clone of r whose
// Authorization header carries the attenuated token, replacing any the
// caller set; a redirect that left the first request's origin is sent with
// no Authorization. On error it sends nothing and closes r's body.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var auth string
	if src, ok := source(r); ok {
		tok, err := t.token(r, src)
		if err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, err
		}
		auth = "Bearer " + tok
	}
	out := r.Clone(r.Context())
	if auth != "" {
		out.Header.Set("Authorization", auth)
	} else {
		out.Header.Del("Authorization")
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(out)
	if resp != nil && resp.Request == nil {
		// So that the redirect http.Client builds from resp can be traced
		// back to out (leftOrigin).
		resp.Request = out
	}
	return resp, err
}

// source returns the token r's token is narrowed from: the caller's,
// from r's context, for a first request; for a redirect within the
// origin, the token sent with the request it follows, so that the
// redirect carries the caveats of every request of its chain and the
// callee that redirected passes on no more than it was given. ok is false
// when r gets no token: its chain left the origin, or the token the
// previous request carried cannot be found.
func source(r *http.Request) (src string, ok bool) {
	if r.Response == nil {
		cred, _ := agenttrust.CredentialFrom(r.Context())
		return cred, true
	}
	if leftOrigin(r) {
		return "", false
	}
	prev, ok := strings.CutPrefix(r.Response.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || !strings.HasPrefix(prev, agenttrust.TokenPrefix) {
		return "", false
	}
	return prev, true
}

// leftOrigin reports whether r follows a redirect and some request of its
// chain, r included, is not in the origin of the one before it, or the
// chain cannot be traced back to its first request.
func leftOrigin(r *http.Request) bool {
	for cur := r; cur.Response != nil; {
		prev := cur.Response.Request
		if prev == nil || prev.URL == nil || cur.URL == nil || origin(prev.URL) != origin(cur.URL) {
			return true
		}
		cur = prev
	}
	return false
}

// origin is the scheme, host and port a URL reaches, the port spelled out.
func origin(u *url.URL) [3]string {
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return [3]string{scheme, strings.ToLower(u.Hostname()), port}
}

func (t *Transport) token(r *http.Request, cred string) (string, error) {
	if r.URL == nil {
		return "", errors.New("agenttrust: request has no URL")
	}
	if !t.InsecureAllowHTTP && !strings.EqualFold(r.URL.Scheme, "https") && !plainhttp.Local(r.URL, t.Base) {
		return "", fmt.Errorf("%w (%s)", ErrInsecureTransport, r.URL.Host)
	}
	switch {
	case cred == "":
		return "", ErrNoCredential
	case strings.HasPrefix(cred, agenttrust.KeyPrefix):
		return "", ErrAPIKey
	case !strings.HasPrefix(cred, agenttrust.TokenPrefix):
		return "", fmt.Errorf("%w: only %s tokens can be narrowed for another agent", errs.UnsupportedCredential, agenttrust.TokenPrefix)
	}
	var caveats []string
	if t.Caveats != nil {
		caveats = t.Caveats(r)
	}
	tok, err := agenttrust.Attenuate(cred, caveats...)
	if err != nil {
		return "", fmt.Errorf("agenttrust: narrowing the token for %s: %w", r.URL.Host, err)
	}
	return tok, nil
}

// Caveats returns a Transport.Caveats that adds the same caveats to every
// request, such as Caveats("tool in research.*").
func Caveats(caveats ...string) func(*http.Request) []string {
	cs := append([]string(nil), caveats...)
	return func(*http.Request) []string { return cs }
}

var _ http.RoundTripper = (*Transport)(nil)
