// Package plainhttp decides when plain http may carry a credential: only
// when the request stays on this machine. remote, the CLI and
// middleware/a2a ask it, so that they agree.
package plainhttp

import (
	"net/http"
	"net/netip"
	"net/url"
)

// Host reports whether host (as url.URL.Hostname gives it) is this
// machine: "localhost" or a loopback address. Only "localhost" as
// net/http spells it: a request to "LOCALHOST" goes to the environment's
// HTTP_PROXY, whose bypass compares the name as written. Not a name under
// .localhost: Go's own resolver reads /etc/hosts and then asks the
// network's DNS server about it, whose answer anyone on the path can
// forge.
func Host(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Local reports whether a plain http request to u sent through rt (nil
// meaning http.DefaultTransport) stays on this machine: u's host is this
// machine (Host), and rt, when it is an *http.Transport, sends it to no
// proxy or to one on this machine. A proxy its Proxy func names, or
// fails to name, elsewhere takes the request, credential and all, across
// the network: http.ProxyURL proxies every request, localhost too. A
// RoundTripper of another type is judged by u alone.
func Local(u *url.URL, rt http.RoundTripper) bool {
	if u == nil || !Host(u.Hostname()) {
		return false
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok || t.Proxy == nil {
		return true
	}
	p, err := t.Proxy(&http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Host: u.Host})
	return err == nil && (p == nil || Host(p.Hostname()))
}
