package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
)

// Options configures HTTP. Action is required; every other field has a
// safe default.
type Options struct {
	// Action names the tool a request invokes and the resource it acts
	// on. ok false refuses the request (403): a route nobody mapped is
	// never let through. Routes builds one from http.ServeMux patterns.
	Action func(r *http.Request) (tool, resource string, ok bool)

	// Extractor finds the credential in a request; nil means
	// BearerExtractor.
	Extractor Extractor

	// Attributes, if set, supplies the request's attributes (see
	// JSONBodyAttributes). An error refuses the request with 400, its
	// message sent to the client.
	Attributes func(r *http.Request) (map[string]any, error)

	// TrustedProxies lists the reverse proxies whose X-Forwarded-For
	// header is believed. Empty (the default) means the client address is
	// the peer of the connection, r.RemoteAddr, and X-Forwarded-For is
	// ignored: anyone can write that header. When the peer is inside one
	// of these prefixes, the client address is the right-most hop of
	// X-Forwarded-For that is not; a hop that does not parse makes the
	// address unknown, which fails every IP allowlist.
	TrustedProxies []netip.Prefix

	// Realm, if set, is the realm parameter of WWW-Authenticate.
	Realm string
}

// Error codes in the body of a refused request.
const (
	CodeUnauthenticated   = "unauthenticated"    // 401: no credential
	CodeInvalidToken      = "invalid_token"      // 401: credential malformed, unknown, expired or revoked
	CodeInsufficientScope = "insufficient_scope" // 403: a caveat of the credential excludes this request
	CodeDenied            = "denied"             // 403: the policy (or the route map) denies
	CodeApprovalRequired  = "approval_required"  // 403: the policy wants a person to approve; see ApprovalID
	CodeInvalidRequest    = "invalid_request"    // 400: the request cannot be checked as sent
	CodeUnavailable       = "unavailable"        // 503: the store or audit trail is unavailable
	CodeInternal          = "internal"           // 500: misconfiguration or an unexpected checker error
)

// ErrorBody is the JSON body of every response HTTP writes itself:
//
//	{"error":{"code":"approval_required","message":"...","approval_id":"...","decision_id":"..."}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says why a request was refused. Message is meant for
// people and agents and never holds a secret.
type ErrorDetail struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	ApprovalID string `json:"approval_id,omitempty"`
	DecisionID string `json:"decision_id,omitempty"`
}

// DecisionFrom returns the Decision that let the request through, in a
// handler behind HTTP.
func DecisionFrom(ctx context.Context) (agenttrust.Decision, bool) {
	return agenttrust.DecisionFrom(ctx)
}

// HTTP returns middleware that checks every request with checker before
// the wrapped handler sees it. The credential comes from opts.Extractor,
// the tool and resource from opts.Action, the attributes from
// opts.Attributes; an identity already in the request's context
// (agenttrust.WithAgent, WithOnBehalfOf) fills the agent, session and
// on-behalf-of fields, but the credential decides who is acting.
//
// A request is refused with a JSON ErrorBody: 401 with WWW-Authenticate
// when it carries no credential or a bad one, 403 when it is denied or
// needs approval (with the approval id), 400 when it cannot be checked
// (among others, a resource not in Unicode NFC, which the checker would
// judge in that form while the handler serves the one it was sent), 503
// when the checker's store or audit trail is down. Only an Allow reaches
// the handler, whose context then carries the verified agent
// (agenttrust.IdentityFrom), the credential (agenttrust.CredentialFrom, for
// delegating onward with package a2a) and the Decision (DecisionFrom).
//
// A nil checker or Action makes every request fail with 500: HTTP cannot
// return an error, and it never lets a request through unchecked. The
// middleware is safe for concurrent use if checker and the Options
// functions are.
func HTTP(checker agenttrust.Checker, opts Options) func(http.Handler) http.Handler {
	g := &httpGuard{checker: checker, opts: opts, extract: opts.Extractor}
	if g.extract == nil {
		g.extract = BearerExtractor{}
	}
	g.opts.TrustedProxies = make([]netip.Prefix, len(opts.TrustedProxies))
	for i, p := range opts.TrustedProxies {
		g.opts.TrustedProxies[i] = p.Masked()
		if !p.IsValid() {
			g.cfgErr = fmt.Errorf("%w: invalid trusted proxy prefix %d", agenttrust.ErrInvalidConfig, i)
		}
	}
	switch {
	case checker == nil:
		g.cfgErr = fmt.Errorf("%w: HTTP has a nil checker", agenttrust.ErrInvalidConfig)
	case opts.Action == nil:
		g.cfgErr = fmt.Errorf("%w: HTTP needs Options.Action", agenttrust.ErrInvalidConfig)
	case strings.ContainsAny(opts.Realm, "\"\\\r\n"):
		g.cfgErr = fmt.Errorf("%w: realm must not contain quotes, backslashes or line breaks", agenttrust.ErrInvalidConfig)
	}
	return func(next http.Handler) http.Handler {
		h := *g
		h.next = next
		return &h
	}
}

type httpGuard struct {
	checker agenttrust.Checker
	opts    Options
	extract Extractor
	cfgErr  error
	next    http.Handler
}

func (g *httpGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.cfgErr != nil {
		g.refuse(w, http.StatusInternalServerError, "", ErrorDetail{Code: CodeInternal, Message: "authorization is misconfigured"})
		return
	}
	cred, err := g.extract.Extract(r)
	if err != nil {
		g.refuse(w, http.StatusBadRequest, "invalid_request", ErrorDetail{Code: CodeInvalidRequest, Message: err.Error()})
		return
	}
	if cred == "" {
		g.refuse(w, http.StatusUnauthorized, " ", ErrorDetail{Code: CodeUnauthenticated, Message: "a credential is required"})
		return
	}
	tool, resource, ok := g.opts.Action(r)
	if !ok {
		g.refuse(w, http.StatusForbidden, "", ErrorDetail{Code: CodeDenied, Message: "no action is mapped to this route"})
		return
	}
	if err := resourceForm(resource); err != nil {
		g.refuse(w, http.StatusBadRequest, "", ErrorDetail{Code: CodeInvalidRequest, Message: err.Error()})
		return
	}
	req := agenttrust.Request{
		Tool: tool, Resource: resource, Credential: cred,
		RemoteAddr: clientAddr(r, g.opts.TrustedProxies),
	}
	if g.opts.Attributes != nil {
		if req.Attributes, err = g.opts.Attributes(r); err != nil {
			g.refuse(w, http.StatusBadRequest, "", ErrorDetail{Code: CodeInvalidRequest, Message: err.Error()})
			return
		}
	}
	ctx := r.Context()
	id, _ := agenttrust.IdentityFrom(ctx)
	req.AgentID, req.SessionID, req.OnBehalfOf = id.AgentID, id.SessionID, id.OnBehalfOf

	d, err := g.checker.Check(ctx, req)
	if err != nil {
		g.refuseErr(w, d, err)
		return
	}
	switch d.Effect {
	case agenttrust.Allow:
	case agenttrust.NeedsApproval:
		msg := d.Reason
		if msg == "" {
			msg = "this action needs approval"
		}
		g.refuse(w, http.StatusForbidden, "", ErrorDetail{Code: CodeApprovalRequired, Message: msg, ApprovalID: d.ApprovalID, DecisionID: d.ID.String()})
		return
	default:
		msg := d.Reason
		if msg == "" {
			msg = "denied"
		}
		g.refuse(w, http.StatusForbidden, "", ErrorDetail{Code: CodeDenied, Message: msg, DecisionID: d.ID.String()})
		return
	}
	// The Decision and credential travel in one context value.
	g.next.ServeHTTP(w, r.WithContext(agenttrust.WithDecision(ctx, cred, d)))
}

// refuseErr answers a check that failed. The message names the kind of
// failure, never the error's detail, except for a caveat (the caller's own
// credential) and an invalid request (the caller's own input).
func (g *httpGuard) refuseErr(w http.ResponseWriter, d agenttrust.Decision, err error) {
	det := ErrorDetail{DecisionID: d.ID.String()}
	var ce *agenttrust.CaveatError
	switch {
	case errors.Is(err, agenttrust.ErrStoreUnavailable), errors.Is(err, agenttrust.ErrAuditUnavailable), errors.Is(err, agenttrust.ErrClosed):
		det.Code, det.Message = CodeUnavailable, "authorization is temporarily unavailable"
		g.refuse(w, http.StatusServiceUnavailable, "", det)
	case errors.As(err, &ce):
		det.Code, det.Message = CodeInsufficientScope, ce.Error()
		g.refuse(w, http.StatusForbidden, "insufficient_scope", det)
	case errors.Is(err, errs.IPNotAllowed):
		det.Code, det.Message = CodeDenied, errs.IPNotAllowed.Error()
		g.refuse(w, http.StatusForbidden, "", det)
	case errors.Is(err, agenttrust.ErrUnauthorized):
		det.Code, det.Message = CodeInvalidToken, unauthorizedMessage(err)
		g.refuse(w, http.StatusUnauthorized, "invalid_token", det)
	case errors.Is(err, agenttrust.ErrInvalidRequest):
		det.Code, det.Message = CodeInvalidRequest, err.Error()
		g.refuse(w, http.StatusBadRequest, "", det)
	default:
		det.Code, det.Message = CodeInternal, "authorization failed"
		if d.Reason != "" {
			det.Message += ": " + d.Reason
		}
		g.refuse(w, http.StatusInternalServerError, "", det)
	}
}

// credentialErrors are the credential failures HTTP names, most specific
// first.
var credentialErrors = [...]error{
	agenttrust.ErrExpired, agenttrust.ErrRevoked, agenttrust.ErrSuspended,
	errs.KeyChecksum, errs.CredentialTooLarge, agenttrust.ErrMalformedCredential,
	errs.BadSignature, errs.UnknownKey, errs.UnsupportedCredential,
	errs.AgentMismatch, errs.DelegationDepth, errs.Audience, errs.Algorithm,
}

func unauthorizedMessage(err error) string {
	for _, e := range credentialErrors {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return agenttrust.ErrUnauthorized.Error()
}

// refuse writes the error body. bearer, when not empty, adds a
// WWW-Authenticate challenge: " " for a bare one, otherwise the RFC 6750
// error code.
func (g *httpGuard) refuse(w http.ResponseWriter, status int, bearer string, det ErrorDetail) {
	h := w.Header()
	if bearer != "" {
		var b strings.Builder
		b.WriteString("Bearer")
		sep := " "
		if g.opts.Realm != "" {
			b.WriteString(` realm="` + g.opts.Realm + `"`)
			sep = ", "
		}
		if bearer != " " {
			b.WriteString(sep + `error="` + bearer + `"`)
		}
		h.Set("WWW-Authenticate", b.String())
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	body, _ := json.Marshal(ErrorBody{Error: det})
	w.Write(append(body, '\n'))
}

// clientAddr is the address of the client: the connection's peer, or,
// when the peer is a trusted proxy, the right-most untrusted hop of
// X-Forwarded-For.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if len(trusted) == 0 || !contains(trusted, peer) {
		return peer
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for {
			hop := line
			j := strings.LastIndexByte(line, ',')
			if j >= 0 {
				hop, line = line[j+1:], line[:j]
			}
			a := parseAddr(strings.TrimSpace(hop))
			if !a.IsValid() {
				return netip.Addr{}
			}
			if !contains(trusted, a) {
				return a
			}
			peer = a
			if j < 0 {
				break
			}
		}
	}
	return peer // every hop is a trusted proxy: the left-most one
}

// parseAddr reads "addr", "addr:port" or "[addr]:port".
func parseAddr(s string) netip.Addr {
	// "ipv4:port", the usual r.RemoteAddr, accepted exactly when
	// ParseAddrPort would accept it but without its general splitting
	// and port parsing, which cost as much as parsing the address.
	if i := strings.LastIndexByte(s, ':'); i > 0 && isPort(s[i+1:]) {
		if a, ok := parseIPv4(s[:i]); ok {
			return a
		}
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// parseIPv4 reads a dotted quad exactly as netip.ParseAddr does (four
// decimal fields of at most 255, no leading zeros), and nothing else.
func parseIPv4(s string) (netip.Addr, bool) {
	var ip [4]byte
	field, val, digits := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && val == 0 {
				return netip.Addr{}, false // leading zero
			}
			if val = val*10 + int(c-'0'); val > 255 {
				return netip.Addr{}, false
			}
			digits++
		case c == '.' && digits > 0 && field < 3:
			ip[field] = byte(val)
			field, val, digits = field+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if field != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(val)
	return netip.AddrFrom4(ip), true
}

// isPort reports whether strconv.ParseUint(s, 10, 16) would succeed:
// decimal digits only, any leading zeros, at most 65535.
func isPort(s string) bool {
	if s == "" {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		if n = n*10 + int(c-'0'); n > 65535 {
			return false
		}
	}
	return true
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.WithZone("")
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Extractor finds the credential in a request. It returns "" and no error
// when the request carries none of its kind, and an error when it carries
// one that is malformed or ambiguous.
type Extractor interface {
	Extract(r *http.Request) (string, error)
}

// ExtractorFunc adapts a function to Extractor.
type ExtractorFunc func(r *http.Request) (string, error)

// Extract calls f.
func (f ExtractorFunc) Extract(r *http.Request) (string, error) { return f(r) }

// BearerExtractor takes the credential from "Authorization: Bearer
// <credential>" (RFC 6750; the scheme is case-insensitive). Another scheme
// is ignored; two Authorization headers, or an empty Bearer, are an error.
type BearerExtractor struct{}

// Extract implements Extractor.
func (BearerExtractor) Extract(r *http.Request) (string, error) {
	vs := r.Header["Authorization"]
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", errors.New("agenttrust: more than one Authorization header")
	}
	scheme, cred, _ := strings.Cut(vs[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	cred = strings.TrimSpace(cred)
	if cred == "" {
		return "", errors.New("agenttrust: empty bearer credential")
	}
	return cred, nil
}

// HeaderExtractor takes the credential from the named header, such as
// HeaderExtractor("X-API-Key"). The header given twice is an error.
type HeaderExtractor string

// Extract implements Extractor.
func (h HeaderExtractor) Extract(r *http.Request) (string, error) {
	vs := r.Header.Values(string(h))
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", fmt.Errorf("agenttrust: more than one %s header", http.CanonicalHeaderKey(string(h)))
	}
	return strings.TrimSpace(vs[0]), nil
}

// MultiExtractor tries each extractor in order: the first credential found
// wins, and the first error stops the search.
func MultiExtractor(extractors ...Extractor) Extractor {
	es := append([]Extractor(nil), extractors...)
	return ExtractorFunc(func(r *http.Request) (string, error) {
		for _, e := range es {
			cred, err := e.Extract(r)
			if err != nil || cred != "" {
				return cred, err
			}
		}
		return "", nil
	})
}

// JSONBodyAttributes returns an Options.Attributes that reads the request
// body, at most maxBytes of it, as a JSON object and turns it into
// attributes with JSONAttributes. The body is put back for the handler.
// An empty body has no attributes; a larger or malformed one refuses the
// request, and so does one not declared exactly as JSON: one
// Content-Type whose media type is "application/json" as sent (in that
// case, with parameters such as charset allowed). A binder that picks by
// the declared type (gin's ShouldBind compares it exactly, echo's Bind by
// prefix, net/http's ParseForm after lowercasing) reads anything else,
// or nothing declared, as a form or the query string, where the policy
// saw JSON. Query parameters are not attributes: the handler must take
// its input from the body.
func JSONBodyAttributes(maxBytes int64) func(*http.Request) (map[string]any, error) {
	return func(r *http.Request) (map[string]any, error) {
		if r.Body == nil || r.Body == http.NoBody {
			return nil, nil
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%w: reading the body: %w", agenttrust.ErrInvalidRequest, err)
		}
		if int64(len(b)) > maxBytes {
			return nil, fmt.Errorf("%w: body larger than %d bytes", agenttrust.ErrInvalidRequest, maxBytes)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		if len(trimJSONSpace(b)) > 0 && !jsonContentType(r.Header["Content-Type"]) {
			return nil, fmt.Errorf("%w: body is not declared as JSON (one Content-Type: application/json)", agenttrust.ErrInvalidRequest)
		}
		return JSONAttributes(b)
	}
}

// jsonContentType reports whether the Content-Type values ct declare a
// body every binder reads as JSON: exactly one, whose media type is
// "application/json" as sent, with well-formed parameters.
func jsonContentType(ct []string) bool {
	if len(ct) != 1 {
		return false
	}
	mt, _, _ := strings.Cut(ct[0], ";")
	if strings.TrimSpace(mt) != "application/json" {
		return false
	}
	_, _, err := mime.ParseMediaType(ct[0])
	return err == nil
}

// Route maps an http.ServeMux pattern to a tool; see Routes.
type Route struct {
	// Pattern is an http.ServeMux pattern: "[METHOD ][HOST]/[PATH]", such as
	// "POST /v1/payments/{id}".
	Pattern string
	// Tool is the tool the route invokes, such as "payments.charge".
	Tool string
	// Resource is a template for the resource: text with the pattern's
	// wildcards in braces, such as "payment:{id}". Empty means the
	// request's path.
	Resource string
}

// Routes returns an Options.Action that maps requests to tools with
// http.ServeMux's own matching (precedence, methods, hosts, wildcards), so
// a server whose mux uses the same patterns authorizes exactly the route
// that will serve. A request no pattern matches, or one the mux would
// redirect, is not mapped. Behind a mux, when r.Pattern is one of the
// patterns, r is mapped only when it is also the pattern these routes
// match (a mux in front may not be the one that serves r), and the
// resource's wildcards are read from r's own path, not r.PathValue. The
// route of up to 1024 recent requests is remembered, so that a repeated
// one skips matching.
//
// Routes reports a pattern ServeMux rejects, two that conflict, an empty
// tool and a resource template naming an unknown wildcard.
func Routes(routes ...Route) (func(r *http.Request) (tool, resource string, ok bool), error) {
	t := &routeTable{mux: http.NewServeMux(), byPattern: make(map[string]int, len(routes)), cache: newRouteCache()}
	for i, rt := range routes {
		c, err := compileRoute(rt)
		if err == nil {
			err = register(t.mux, rt.Pattern, routeIndex(i))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: route %d (%q): %w", agenttrust.ErrInvalidConfig, i, rt.Pattern, err)
		}
		t.routes = append(t.routes, c)
		t.byPattern[rt.Pattern] = i
	}
	return t.action, nil
}

type routeTable struct {
	mux       *http.ServeMux // never changed after Routes returns
	routes    []compiledRoute
	byPattern map[string]int
	cache     *routeCache
}

// routeIndex marks a route in the table's mux; it never serves.
type routeIndex int

func (routeIndex) ServeHTTP(http.ResponseWriter, *http.Request) {}

func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

func (t *routeTable) action(r *http.Request) (string, string, bool) {
	i, ok := t.match(r)
	if r.Pattern != "" {
		if j, known := t.byPattern[r.Pattern]; known {
			// A mux in front routed r by one of the patterns, but it may
			// not be the mux that serves it (http.Handle("/", mw(api))):
			// map r only when this table's own match agrees.
			if !ok || routeIndex(j) != i {
				return "", "", false
			}
		}
	}
	if !ok {
		return "", "", false
	}
	// The wildcards' values are read from r's path too, never from
	// r.PathValue: those are the mux in front's, found on the path as it
	// was then, which a handler between (http.StripPrefix) may have
	// changed.
	rt := &t.routes[i]
	return rt.tool, rt.resource(r, func(name string) string { return rt.pathValue(r, name) }), true
}

// match finds the route the mux chooses for r. Apart from CONNECT, which
// also looks at r.URL.Host, ServeMux chooses by method, Host and escaped
// path alone (the query only shapes a redirect, which maps to no route),
// and the mux never changes, so a choice once made can be remembered
// under those three. The escaped path is a function of r.URL.Path and
// r.URL.RawPath, so the key holds those two rather than computing it.
func (t *routeTable) match(r *http.Request) (routeIndex, bool) {
	if r.Method == http.MethodConnect {
		return t.matchMux(r)
	}
	k := routeKey{method: r.Method, host: r.Host, path: r.URL.Path, rawPath: r.URL.RawPath}
	slot := t.cache.slot(k)
	if e := slot.Load(); e != nil && e.key == k {
		return e.route, true
	}
	i, ok := t.matchMux(r)
	if ok {
		t.cache.store(slot, k, i)
	}
	return i, ok
}

func (t *routeTable) matchMux(r *http.Request) (routeIndex, bool) {
	h, _ := t.mux.Handler(r)
	i, ok := h.(routeIndex)
	return i, ok
}

// routeCache remembers the route chosen for recent requests so that a
// repeated one skips ServeMux matching. It is direct-mapped: each key has
// one slot and a newer key evicts the older one, so however many distinct
// paths clients send it holds at most routeCacheSlots entries of at most
// routeCacheMaxKey bytes of key each. Only mapped requests are stored, so
// paths that match no route cannot evict the routes in use. An entry never
// changes once stored and slots are swapped atomically, so lookups take no
// lock.
type routeCache struct {
	seed  maphash.Seed
	slots [routeCacheSlots]atomic.Pointer[routeCacheEntry]
}

const (
	routeCacheSlots  = 1024
	routeCacheMaxKey = 512 // bytes; a request with a longer key is matched every time
)

type routeKey struct {
	method, host, path, rawPath string
}

type routeCacheEntry struct {
	key   routeKey
	route routeIndex
}

func newRouteCache() *routeCache {
	return &routeCache{seed: maphash.MakeSeed()}
}

// slot is where k lives if it is cached. Path and host are hashed with a
// random seed, so clients cannot aim requests at one slot; the method is
// only mixed in from its length and first letter, which tells the
// standard methods apart at a fraction of the cost of hashing it. Keys
// that share a slot merely evict each other.
func (c *routeCache) slot(k routeKey) *atomic.Pointer[routeCacheEntry] {
	h := maphash.String(c.seed, k.path)
	h = h*31 ^ maphash.String(c.seed, k.host)
	if k.rawPath != "" {
		h = h*31 ^ maphash.String(c.seed, k.rawPath)
	}
	if k.method != "" {
		h ^= uint64(len(k.method))<<8 | uint64(k.method[0])
	}
	return &c.slots[h%routeCacheSlots]
}

func (c *routeCache) store(slot *atomic.Pointer[routeCacheEntry], k routeKey, route routeIndex) {
	if len(k.method)+len(k.host)+len(k.path)+len(k.rawPath) > routeCacheMaxKey {
		return
	}
	// Clones: the request's strings may share memory with the rest of the
	// request (its query, its headers), which the cache must not keep alive.
	k = routeKey{strings.Clone(k.method), strings.Clone(k.host), strings.Clone(k.path), strings.Clone(k.rawPath)}
	slot.Store(&routeCacheEntry{key: k, route: route})
}

type compiledRoute struct {
	tool  string
	segs  []string // the pattern's path segments
	parts []tmplPart
}

// tmplPart is literal text or, when wildcard is set, a wildcard's value.
type tmplPart struct {
	text     string
	wildcard bool
}

func compileRoute(rt Route) (compiledRoute, error) {
	c := compiledRoute{tool: rt.Tool}
	if rt.Tool == "" {
		return c, errors.New("empty tool")
	}
	p := rt.Pattern
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = strings.TrimLeft(p[i:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i >= 0 {
		c.segs = strings.Split(p[i+1:], "/")
	}
	names := map[string]bool{}
	for _, s := range c.segs {
		if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
			names[strings.TrimSuffix(s[1:len(s)-1], "...")] = true
		}
	}
	tmpl := rt.Resource
	for tmpl != "" {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			c.parts = append(c.parts, tmplPart{text: tmpl})
			break
		}
		end := strings.IndexByte(tmpl[open:], '}')
		if end < 0 {
			return c, fmt.Errorf("resource template %q: unclosed {", rt.Resource)
		}
		name := tmpl[open+1 : open+end]
		if !names[name] {
			return c, fmt.Errorf("resource template %q: pattern has no wildcard {%s}", rt.Resource, name)
		}
		if open > 0 {
			c.parts = append(c.parts, tmplPart{text: tmpl[:open]})
		}
		c.parts = append(c.parts, tmplPart{text: name, wildcard: true})
		tmpl = tmpl[open+end+1:]
	}
	return c, nil
}

func (c *compiledRoute) resource(r *http.Request, value func(string) string) string {
	switch {
	case c.parts == nil:
		return r.URL.Path
	case len(c.parts) == 1:
		if p := c.parts[0]; p.wildcard {
			return value(p.text)
		}
		return c.parts[0].text
	}
	var b strings.Builder
	for _, p := range c.parts {
		if p.wildcard {
			b.WriteString(value(p.text))
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// pathValue finds a wildcard's value in a path the mux matched to this
// route, as ServeMux would: segment by segment on the escaped path, each
// value unescaped.
func (c *compiledRoute) pathValue(r *http.Request, name string) string {
	path := r.URL.EscapedPath()
	if path != "" {
		path = path[1:]
	}
	for _, s := range c.segs {
		seg, rest, _ := strings.Cut(path, "/")
		if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
			w := s[1 : len(s)-1]
			if w == name+"..." {
				return unescape(path)
			}
			if w == name {
				return unescape(seg)
			}
		}
		path = rest
	}
	return ""
}

func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
