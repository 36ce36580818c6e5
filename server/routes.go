package server

import (
	"fmt"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/internal/wire"
)

// checkPath is the route of checks, the hot path.
const checkPath = "/v1/actions/check"

// access says who may call a route.
type access uint8

const (
	public   access = 0
	admin    access = 1 << iota // the admin role, in the caller's tenant
	approver                    // the approver role
	agent                       // the agent role
	system                      // and the caller's tenant is the system tenant
	authed                      // any authenticated caller, whatever its roles
	scrape                      // the metrics scrape token (WithMetricsToken)
)

// route is one entry of the API. The mux, the OpenAPI test and the
// handlers all read this table: req and resp are zero values of the
// request and success-response bodies, query the query parameters the
// handler accepts (any other is refused with 400).
type route struct {
	method string // "" for any method (a mounted handler)
	path   string
	access access
	handle func(*Server, *call) error
	req    any // nil: no body
	// emptyBody: the body may be omitted; it then reads as the zero req.
	emptyBody bool
	resp      any // nil: no JSON body (204, or not JSON)
	status    int // success status
	query     []string
	headers   []string // request headers the handler reads, beyond authentication
	optional  bool     // registered only when configured (the store API)
	raw       bool     // the handler reads the body itself
	unlisted  bool     // not in api/openapi.yaml: the store API, for agenttrust's own nodes
}

func (rt *route) pattern() string {
	if rt.method == "" {
		return rt.path
	}
	return rt.method + " " + rt.path
}

// name is the route's label in metrics and logs.
func (rt *route) name() string {
	if rt.method == "" {
		return "* " + rt.path
	}
	return rt.pattern()
}

func routeTable() []*route {
	return []*route{
		{method: "POST", path: checkPath, access: admin | agent, handle: (*Server).check,
			req: wire.CheckRequest{}, resp: wire.CheckResponse{}, status: 200},
		{method: "GET", path: "/v1/whoami", access: authed, handle: (*Server).whoami,
			resp: wire.PrincipalView{}, status: 200},

		{method: "POST", path: "/v1/keys", access: admin, handle: (*Server).createKey,
			req: wire.CreateKeyRequest{}, resp: wire.CreateKeyResponse{}, status: 201},
		{method: "GET", path: "/v1/keys", access: admin, handle: (*Server).listKeys,
			resp: wire.KeyList{}, status: 200},
		{method: "POST", path: "/v1/keys/{id}/revoke", access: admin, handle: (*Server).revokeKey,
			status: 204},
		{method: "POST", path: "/v1/tenants/{tenant}/keys", access: system | admin, handle: (*Server).createTenantKey,
			req: wire.TenantKeyRequest{}, resp: wire.CreateKeyResponse{}, status: 201},

		{method: "POST", path: "/v1/tokens", access: admin | agent, handle: (*Server).exchange,
			req: wire.ExchangeRequest{}, emptyBody: true, resp: wire.TokenResponse{}, status: 201},
		{method: "POST", path: "/v1/tokens/delegate", access: admin | agent, handle: (*Server).delegate,
			req: wire.DelegateRequest{}, emptyBody: true, resp: wire.DelegateResponse{}, status: 201},
		{method: "POST", path: "/v1/tokens/inspect", access: admin | agent, handle: (*Server).inspect,
			req: wire.InspectRequest{}, resp: wire.TokenInfo{}, status: 200},

		{method: "POST", path: "/v1/revocations", access: admin, handle: (*Server).revoke,
			req: wire.RevokeRequest{}, status: 204},
		{method: "GET", path: "/v1/revocations", access: admin, handle: (*Server).listBlocks,
			resp: wire.BlockList{}, status: 200},
		{method: "GET", path: "/v1/budgets/{id}", access: admin, handle: (*Server).getBudgets,
			resp: wire.BudgetList{}, status: 200},
		{method: "POST", path: "/v1/agents/{id}/suspend", access: admin, handle: (*Server).suspend,
			req: wire.SuspendRequest{}, emptyBody: true, status: 204},
		{method: "POST", path: "/v1/agents/{id}/resume", access: admin, handle: (*Server).resume,
			status: 204},

		{method: "GET", path: "/v1/approvals", access: admin | approver | agent, handle: (*Server).listApprovals,
			resp: wire.ApprovalList{}, status: 200, query: []string{"status", "agent_id", "limit"}},
		{method: "GET", path: "/v1/approvals/{id}", access: admin | approver | agent, handle: (*Server).getApproval,
			resp: wire.ApprovalView{}, status: 200, query: []string{"wait"}},
		{method: "POST", path: "/v1/approvals/{id}/approve", access: admin | approver, handle: (*Server).approve,
			req: wire.DecideRequest{}, emptyBody: true, resp: wire.ApprovalView{}, status: 200},
		{method: "POST", path: "/v1/approvals/{id}/deny", access: admin | approver, handle: (*Server).deny,
			req: wire.DecideRequest{}, emptyBody: true, resp: wire.ApprovalView{}, status: 200},
		{method: "GET", path: "/v1/grants", access: admin | approver, handle: (*Server).listGrants,
			resp: wire.GrantList{}, status: 200, query: []string{"agent_id"}},

		{method: "GET", path: "/v1/audit", access: admin | approver, handle: (*Server).queryAudit,
			resp: wire.AuditPage{}, status: 200, query: auditQueryParams},
		{method: "GET", path: "/v1/audit/stream", access: admin | approver, handle: (*Server).streamAudit,
			status: 200, query: []string{"since", "agent_id", "tool", "effect"}, headers: []string{"Last-Event-ID"}},
		{method: "GET", path: "/v1/audit/verify", access: admin | approver, handle: (*Server).verifyAudit,
			resp: wire.VerifyResponse{}, status: 200, query: []string{"chain"}},

		{method: "GET", path: "/v1/policy", access: admin | approver, handle: (*Server).getPolicy,
			resp: wire.PolicyView{}, status: 200},
		{method: "PUT", path: "/v1/policy", access: admin, handle: (*Server).putPolicy,
			req: wire.PutPolicyRequest{}, resp: wire.PutPolicyResponse{}, status: 200},
		{method: "POST", path: "/v1/policy/validate", access: admin, handle: (*Server).validatePolicy,
			req: wire.ValidatePolicyRequest{}, resp: wire.ValidatePolicyResponse{}, status: 200},

		{method: "GET", path: "/.well-known/jwks.json", access: public, handle: (*Server).jwks,
			resp: wire.JWKSet{}, status: 200},
		{method: "GET", path: oauthMetadataPath, access: public, handle: (*Server).oauthMetadata,
			resp: wire.AuthServerMetadata{}, status: 200},
		{method: "POST", path: oauthTokenPath, access: public, handle: (*Server).oauthToken,
			resp: wire.OAuthToken{}, status: 200, raw: true},
		{method: "GET", path: "/healthz", access: public, handle: (*Server).healthz,
			resp: wire.HealthResponse{}, status: 200},
		{method: "GET", path: "/readyz", access: public, handle: (*Server).readyz,
			resp: wire.ReadyResponse{}, status: 200},
		{method: "GET", path: "/metrics", access: system | admin | approver | scrape, handle: (*Server).serveMetrics,
			status: 200},

		{method: "", path: "/v1/store/", access: system | admin, handle: (*Server).serveStoreAPI,
			optional: true, raw: true, unlisted: true},
	}
}

// call is one request in flight: what the wrapper established before the
// route's handler runs.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	rt     *route
	status int
	bearer string
	p      agenttrust.Principal
	t      *tenant
	addr   netip.Addr
	body   []byte // request body, valid during the handler

	start    time.Time // when the request arrived, with an observer or an access log
	reqID    string    // the request id, echoed in X-Request-Id
	badReqID bool      // the caller's X-Request-Id was refused
	decision string    // the decision id of a check, for the access log
}

var calls = sync.Pool{New: func() any { return new(call) }}

// handler wraps a route: metrics, query parameter check, authentication,
// role check, then the route's handler; an error it returns becomes the
// JSON error response.
func (s *Server) handler(i int, rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := calls.Get().(*call)
		*c = call{w: w, r: r, rt: rt, body: c.body[:0]}
		s.tagRequest(c)
		defer s.finish(i, c)
		if err := s.serve(c); err != nil {
			s.writeError(c, err)
		}
	})
}

// finish ends a call whether its handler returned or panicked: it lets go
// of the tenant and counts the request. A panic is logged and answered
// with a 500 when the response has not begun; otherwise the connection
// is dropped. Deferred by handler, so that recover sees the panic.
func (s *Server) finish(i int, c *call) {
	p := recover()
	if c.t != nil {
		s.release(c.t)
	}
	if p != nil {
		// A raw route may have written without setting c.status.
		began := c.status != 0 || c.rt.raw
		if p != http.ErrAbortHandler {
			s.log.Error("agenttrust/server: handler panicked", "route", routeName(c), "request_id", c.reqID, "panic", panicText(p), "stack", string(debug.Stack()))
			if !began {
				writeJSON(c, http.StatusInternalServerError, wire.ErrorBody{Error: wire.ErrorDetail{Code: "internal", Message: "internal error"}})
			}
		}
		s.metrics.request(i, c.status)
		if s.obs != nil {
			s.observeRequest(c.r, c.rt.name(), c.p.Tenant, c.status, c.start)
		}
		s.accessLog(c)
		// c is not reused: whatever the handler started may still refer
		// to it. A response cut short is ended by dropping the connection.
		if began || p == http.ErrAbortHandler {
			panic(http.ErrAbortHandler)
		}
		return
	}
	s.metrics.request(i, c.status)
	if s.obs != nil {
		s.observeRequest(c.r, c.rt.name(), c.p.Tenant, c.status, c.start)
	}
	s.accessLog(c)
	if cap(c.body) > 64<<10 {
		c.body = nil // do not pin large buffers in the pool
	}
	*c = call{body: c.body[:0]}
	calls.Put(c)
}

// panicText describes a recovered panic value for the log: the text of
// an error or a string, unless it looks like it holds a credential.
func panicText(p any) string {
	var msg string
	switch v := p.(type) {
	case error:
		msg = v.Error()
	case string:
		msg = v
	default:
		return fmt.Sprintf("a value of type %T", p)
	}
	if redact.MayHold(msg) {
		return "a text withheld as it may hold a credential"
	}
	return strconv.Quote(msg)
}

func (s *Server) serve(c *call) error {
	// The body is bounded by the body timeout (ServeHTTP).
	if hasBody(c.r) && c.rt.takesNoBody() {
		if err := emptyBody(c.r); err != nil {
			return err
		}
	}
	if s.closed.Load() {
		return agenttrust.ErrClosed
	}
	if err := checkQuery(c.r, c.rt.query); err != nil {
		return err
	}
	c.addr = s.remoteAddr(c.r)
	if c.rt.access&scrape != 0 && s.isScrapeToken(c.r) {
		c.p = scrapePrincipal
	} else if c.rt.access != public {
		if err := s.authenticate(c); err != nil {
			return s.refuseCaller(c, err)
		}
		if err := s.authorize(c); err != nil {
			return err
		}
		if c.r.Method != http.MethodGet && c.rt.path != checkPath {
			// Who acts: the client names the caller in the audit
			// record of every operator action (approve, revoke, ...).
			// What it decides ends with any id of its credential
			// (approverStands): the key, and the token or JWT
			// exchanged from it with its hops.
			c.r = c.r.WithContext(actor.With(c.r.Context(), actor.Actor{AgentID: c.p.AgentID, KeyID: c.p.KeyID, Credentials: derivedIDs(&c.p)}))
		}
	}
	if !c.rt.raw && (c.rt.req != nil || c.r.Method == http.MethodPost || c.r.Method == http.MethodPut) {
		if err := readBody(c); err != nil {
			return err
		}
	}
	return c.rt.handle(s, c)
}

// derivedIDs are the ids of p's credential beyond its root key: the token
// or JWT id, then its delegation hops. None for the key itself.
func derivedIDs(p *agenttrust.Principal) []string {
	var ids []string
	if p.CredentialID != "" && p.CredentialID != p.KeyID {
		ids = append(ids, p.CredentialID)
	}
	for _, h := range p.HopIDs {
		if !slices.Contains(ids, h) {
			ids = append(ids, h)
		}
	}
	return ids
}

// checkQuery refuses query parameters the route does not take, and
// repeated ones.
func checkQuery(r *http.Request, allowed []string) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	q := r.URL.Query()
	for k, vs := range q {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return badRequest("unknown_parameter", "unknown query parameter "+quote(k))
		}
		if len(vs) > 1 {
			return badRequest("invalid_parameter", "query parameter "+quote(k)+" given more than once")
		}
	}
	return nil
}

// notFound answers every request no route matches: 405 when the path
// exists with other methods, else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.obs != nil {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		defer func() { s.observeRequest(r, "", "", sw.status, start) }()
	}
	var allow []string
	for _, m := range [...]string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	c := &call{w: w, r: r}
	s.tagRequest(c)
	defer s.accessLog(c)
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(c, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", msg: r.Method + " is not allowed here"})
		return
	}
	msg := "no such route"
	if s.storeAPI == nil && strings.HasPrefix(r.URL.Path, "/v1/store/") {
		// A node pointed here with remote.NewStore: say why, so the
		// operator of a server started without it knows what to change.
		msg = "the store API is not served here (agenttrust serve --store-api serves it)"
	}
	s.writeError(c, &apiError{status: http.StatusNotFound, code: "not_found", msg: msg})
}

// now reads the server's clock. The clock of WithClock is an injected
// part, read also by the server's own goroutines (the idle tenant sweep),
// where a panic would end the process: a clock that panics is logged and
// the time package's stands in, as the Client's readClock does for the
// record of its refusal. Nothing the server stamps with it grants access.
func (s *Server) now() (t time.Time) {
	if s.clock == nil {
		return time.Now()
	}
	defer func() {
		if p := recover(); p != nil {
			t = time.Now()
			s.log.Error("agenttrust/server: the clock of WithClock panicked; using the time package's", "panic", panicText(p))
		}
	}()
	return s.clock()
}
