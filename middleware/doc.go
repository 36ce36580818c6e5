// Package middleware puts agenttrust checks in front of the places an
// agent acts: Go tool functions, HTTP APIs and hand-written tool loops.
//
// # Tools
//
// Guard wraps a tool function so it runs only when allowed; the agent,
// session and credential come from the context (agenttrust.WithAgent,
// agenttrust.WithCredential).
//
// # HTTP
//
// HTTP is net/http middleware: it takes the credential from the request
// (an Extractor: BearerExtractor by default), maps the route to a tool and
// resource (Options.Action, usually built with Routes from http.ServeMux
// patterns), checks, and answers 401, 403, 400 or 503 with a JSON
// ErrorBody, or calls the handler with the verified identity, credential
// and Decision in its context (agenttrust.IdentityFrom,
// agenttrust.CredentialFrom, DecisionFrom). The client address is the
// connection's peer unless Options.TrustedProxies says which proxies'
// X-Forwarded-For to believe; see the HTTP example. With a remote.Client
// as the checker, the address travels to the agenttrust server, which
// judges IP allowlists and "ip" caveats by it only when it trusts this
// service as a proxy (serve --trusted-proxy): otherwise a credential with
// an IP allowlist is refused, never judged by this service's address.
//
// # Tool loops
//
// CheckToolCall checks a tool call a model asked for, its JSON arguments
// turned into attributes (JSONAttributes), before a hand-written loop runs
// it; ToolResultMessage tells the model what happened.
//
// # Agent frameworks
//
// The adapters in middleware/adk, middleware/eino, middleware/genkit and
// middleware/mcp are thin: each hands every tool call to CheckToolCall
// (or CheckToolCallValue, for arguments the framework holds decoded) and
// turns its answer into the framework's own: run the tool for an Allow,
// interrupt or ask for confirmation for NeedsApproval, and otherwise
// give the model the error's text. ToolCallOptions carry what differs
// between frameworks: where the caller comes from (EditRequest), input
// that is not an object (InputKey), and a call resumed after an approval
// was asked for (Resumed). So the caller, the arguments and the decision
// are read the same way everywhere.
//
// # Between agents
//
// Package middleware/a2a narrows an agent's token for each agent it calls;
// the callee's HTTP middleware verifies every hop.
//
// # Security notes
//
// Nothing here lets a request through unchecked: a nil checker or a
// missing route mapping refuses, a checker error refuses, and the messages
// sent back name the kind of failure, never a secret. Arguments that name
// a member twice (ignoring case) are refused, so a policy sees the value
// the tool will.
package middleware
