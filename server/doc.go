// Package server is the HTTP JSON API of agenttrust: an http.Handler over
// a store, to mount in a host's mux or serve on its own. api/openapi.yaml
// in the module describes every route and field.
//
//	srv, err := server.New(st,
//		server.WithNodeName("node-1"),
//		server.WithSystemTenant("ops"),
//		server.WithClientOptions(
//			agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: masterKeys, SigningKeys: signingKeys}),
//		))
//	defer srv.Close()
//	hs := &http.Server{Addr: ":8080", Handler: srv, ReadHeaderTimeout: 10 * time.Second}
//	err = hs.ListenAndServe()
//
// # Tenants
//
// The server keeps one agenttrust.Client per tenant, opened on the first
// request whose credential names the tenant (a tenant exists once it has
// a key) with the options given to WithClientOptions, an audit sink to
// the store and the audit chain "<node>/<tenant>". Each tenant's Client
// is opened once, apart from every other tenant's: a store slow for one
// tenant holds up only that tenant's requests, each until it ends (503).
// With WithTenantIdle a Client no request has used for a while is
// closed, and opened again by the next one. Every route works
// within the caller's tenant: no route reads or changes another tenant's
// data. An admin of the system tenant (WithSystemTenant) creates a
// tenant's first admin key with POST /v1/tenants/{tenant}/keys; the very
// first key of the system tenant itself is made in process, with
// Server.Client and agenttrust.Client.CreateKey.
//
// # Authentication and roles
//
// Every route but /healthz, /readyz, /.well-known/jwks.json and the OAuth
// routes takes an "Authorization: Bearer" credential: an API key, a token
// or a JWT. The credential's root key carries roles:
//
//   - admin: everything in its tenant;
//   - approver: list, see, approve and deny approvals; read the audit
//     trail and the policy;
//   - agent: check its own actions, exchange its key for tokens, delegate
//     and inspect its own tokens, list and wait on its own approvals.
//
// A narrowed credential (a delegated token, or one with a caveat on tools,
// resources, sessions, on_behalf_of or attributes) acts as an agent only,
// within its caveats, whatever its root key's roles: it checks only
// actions its caveats allow, delegates only tokens at least as narrow as
// itself and sees only approvals its caveats cover. An admin or approver
// key cannot be made with such caveats. No principal approves a request
// of its own agent. /metrics is for admins and approvers of the system
// tenant, and for the scrape token of WithMetricsToken, which is checked
// without the store and is no credential anywhere else; /v1/store/
// (WithStoreAPI) for the system tenant's admins.
//
// A missing or bad credential is a 401 with a WWW-Authenticate header; a
// valid credential without the role is a 403.
//
// # Checks
//
// POST /v1/actions/check answers 200 with the decision. The credential
// checked is the body's "credential" when given; else an agent's own
// bearer credential (so its caveats bind the action); else, for an admin,
// none (the admin vouches for the "agent_id" it names, and the decision
// names the admin's key). A check by a bearer that verifies but is
// revoked or suspended is a 401 and is recorded as a deny. A check that
// could not be made properly (a bad checked credential, the store or the
// audit down) is a deny whose "error" holds the code, as in error
// responses. Only a malformed request is an error response (400).
//
// # OAuth
//
// With WithIssuer, the server is an OAuth 2.1 authorization server for
// machine clients, such as MCP clients that found it in an MCP server's
// protected resource metadata (RFC 9728):
//
//   - GET /.well-known/oauth-authorization-server: RFC 8414 metadata.
//     It names an authorization endpoint, /oauth/authorize, because
//     clients demand the member, but there is none (404): there is no
//     person to ask, and response_types_supported is empty.
//   - POST /oauth/token, form-encoded (RFC 6749), no bearer. The
//     client_credentials grant authenticates the client as an agent: its
//     secret is one of the agent's API keys, its id the agent id, by HTTP
//     Basic or in the form, never both. The RFC 8693 token exchange grant
//     takes an att_ token or a JWT of this server as subject_token
//     (subject_token_type access_token or jwt); client authentication is
//     optional, and when given must be an API key of the subject's agent.
//
// Both verify their source as the API verifies a bearer (address,
// revocation of every id, suspension) and answer an EdDSA JWT made by
// agenttrust.Client.NarrowJWT: aud is the "resource" (RFC 8707) or
// "audience" asked for, else the issuer; the source's caveats, expiry and
// token id carry over; a fresh delegation hop is added and recorded, so
// the JWT holds the agent role at most (scope "agent"), and "caveat"
// parameters narrow it further. A JWT is exchanged only for an audience
// it already names. Every answer is Cache-Control: no-store; errors are
// RFC 6749 section 5.2 bodies, {"error", "error_description"}:
// invalid_request, invalid_client (401, with a Basic challenge),
// invalid_grant, unauthorized_client (a key without the agent role),
// unsupported_grant_type, invalid_scope and invalid_target. A body that
// comes too late (408) and a failure of the server (503, 500) are
// answered as on every route. Without WithIssuer these routes answer 404.
//
// # Errors
//
// Errors are {"error": {"code", "message"}}. Bad input is a 400: unknown
// or duplicate JSON members, wrong types, trailing data, a body over 1 MiB
// (refused by its Content-Length before it is read), missing required
// fields, invalid ids, unknown query parameters, a body on a GET. A body
// that has not arrived within the body timeout (WithBodyTimeout) is a 408.
// A 503 says which part is unavailable by its code and a fixed message:
// what the store's driver said (database user, name, host, port) goes to
// the log only. A request that fails changes nothing.
//
// # Caller address
//
// The caller's address, against which IP allowlists and "ip" caveats are
// checked (of the bearer and of a checked credential alike), is the
// connection's. X-Forwarded-For is believed only from the proxies named
// with WithTrustedProxies: the address is then the right-most hop that is
// not a trusted proxy. From any other peer, an X-Forwarded-For makes the
// address unknown, which no allowlist or "ip" caveat accepts: the peer
// says it speaks for someone else (a service whose remote client forwards
// its caller's address), so its own address is not the caller's.
//
// # Metrics and observability
//
// GET /metrics is for admins and approvers of the system tenant, and for
// the scrape token of WithMetricsToken, which needs no store, so a scrape
// works while the store is down. It serves the handler given to
// WithMetricsHandler, such as a Prometheus registry's (agenttrust serve
// mounts one fed by the OpenTelemetry module, with runtime, process and
// build series); without one, a built-in exposition with no dependency:
// checks by effect, check errors and latency, HTTP requests by route and
// status class, store errors, tenants, the audit queue and chain breaks.
//
// WithObserver tells an observe.Observer of every tenant's checks and
// events (see package observe) and of the server's own: each request
// answered with its route, exact status code and latency, store errors,
// tenants opened and closed, audit chain breaks.
//
// # Console
//
// WithConsole mounts a web console (package console) at /ui/. The mount
// function receives the server itself as the API handler: the console
// signs people in with an approver or admin API key for a session cookie
// (HttpOnly, SameSite=Strict, Secure over TLS, idle timeout), needs a
// CSRF token and a same-origin request for every POST, sends a strict
// Content-Security-Policy, and makes every read and action as an API call
// with the person's key, so the roles above apply to it unchanged. Its
// live pages are server-sent event streams; a host that shuts down
// gracefully ends them (Console.Close, or the request contexts) as it
// ends audit streams. See SECURITY.md for the session, CSRF and CSP
// details, and package webhook for approval notifications, which are
// given to every tenant Client with agenttrust.WithNotifier.
package server
