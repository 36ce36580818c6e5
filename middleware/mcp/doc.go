// Package mcp guards servers and clients of the official MCP Go SDK
// (github.com/modelcontextprotocol/go-sdk) with an agenttrust.Checker: a
// local *agenttrust.Client or the remote client. It is thin: every tool
// call, resource read and prompt becomes one Check, and the decision is
// the checker's.
//
// The package shares its name with the SDK's; import one of them under
// another name:
//
//	import (
//		"github.com/modelcontextprotocol/go-sdk/mcp"
//		atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
//	)
//
// # Server
//
// ServerMiddleware, for Server.AddReceivingMiddleware, checks every
// tools/call before the tool's handler runs, with
// middleware.CheckToolCall as the framework adapters do, and every other
// method that reads or acts too (see Resources, prompts and other
// methods). The tool's name is the request's Tool; the arguments, a JSON
// object, become its Attributes (see middleware.JSONAttributes: numbers
// stay numbers, so "attr.amount <= 50" works, and arguments naming a
// member twice are refused as invalid); ResourceArg names the argument
// that holds the Resource. Anything but an Allow is answered with a CallToolResult whose IsError is set and
// whose text tells the model what happened (the reason, and for
// needs-approval the approval id), and the handler never runs. A check
// that fails (store or audit unavailable, a bad credential) denies too.
//
// Who is calling comes from the request, in this order:
//
//   - the SDK's bearer token info (RequestExtra.TokenInfo, set by
//     auth.RequireBearerToken over HTTP): its UserID is the agent. When the
//     info was made by this package's TokenVerifier, the bearer token
//     itself is passed as Request.Credential, so the token's caveats
//     (tool, resource, attributes, IP) and its revocation are checked on
//     every call, and the address the token was presented from is the
//     request's RemoteAddr;
//   - otherwise the context: agenttrust.IdentityFrom and CredentialFrom. A
//     request's context derives from the one given to Server.Connect, so a
//     stdio or in-memory server is given its agent there.
//
// # Resources, prompts and other methods
//
// ServerMiddleware fails closed: every method but the few below is
// checked before its handler runs, as one Request whose Tool is "mcp."
// followed by the method (a tool's name never holds a '/', and a
// tools/call of a name that does is refused as invalid):
//
//   - resources/read: Tool "mcp.resources/read", Resource the URI up to
//     its query, and the query (the text after '?'), when there is one,
//     the attribute "query";
//   - resources/subscribe, and each URI of subscriptions/listen's
//     resourceSubscriptions: Tool "mcp.resources/subscribe", Resource and
//     "query" as for a read; a listen is allowed only when every one of
//     them is, and one naming more than MaxListenSubscriptions (64) is
//     refused as invalid before any check;
//   - prompts/get: Tool "mcp.prompts/get", Resource the prompt's name, its
//     arguments the Attributes (a prompt named like a tool is not that
//     tool);
//   - completion/complete: Tool "mcp.completion/complete", Resource the
//     prompt's name or the resource template's URI template, Attributes
//     "ref_type" ("ref/prompt" or "ref/resource"), "argument" and "value"
//     (the argument completed and what was typed of it) and "arguments"
//     (those already given, when sent);
//   - any other method, such as a custom one (Server.AddReceivingCustomMethod)
//     or one a later SDK adds: Tool "mcp." and the method, no Resource, no
//     Attributes.
//
// A URI has many spellings of one resource, and a server reads the
// resource: so that a rule on file:///data/secret.txt holds for all of
// them, a URI not in its canonical form (RFC 3986 section 6.2.2; RFC
// 8089 for file:) is refused as invalid, never judged as sent. It must
// be absolute, its scheme and host in lower case, without a user name or
// a fragment, a file URI file:///path (not file:/path, nor
// file://localhost/path), an http(s) or ws(s) URI with a path and
// without its default port (not https://host, nor https://host:443/),
// a host without a trailing '.', a port without a leading zero,
// percent-encoding only what needs it, in upper-case hex (not %73 for
// 's'), and hold no character a URI may not
// ('{' and '}' only in a completion's URI template); dot segments ("..",
// "%2e"), empty ones and encoded separators are refused by the checker.
// In the path, the encoding of non-ASCII text and of what a path may
// hold as itself ('/' and '?' aside) is decoded into the Resource, as a
// server decodes it: file:///data/caf%C3%A9.txt and a%28b%29 are checked
// as file:///data/café.txt and a(b), the form a policy names them in.
// A query is left out of the Resource because a server may serve the
// same resource whatever query follows: a rule naming the resource holds
// for every query, and a condition on attr.query narrows further. What a
// server makes of other spellings is its own: a trailing '/', which
// path.Clean drops, or a path in another case, on a file system that
// ignores case (deny file:///data/secret.txt/** too, or serve nothing
// that way).
//
// A policy allows reads of some files with a rule such as
//
//	rules:
//	  - effect: allow
//	    agents: [support-bot]
//	    tools: ["mcp.resources/read", "mcp.resources/subscribe"]
//	    resources: ["file:///srv/docs/**"]
//
// A request that is not allowed is answered with a *jsonrpc.Error and
// its handler does not run: code CodeDenied, or jsonrpc.CodeInvalidParams
// when the request could not be checked as sent, a message for the model
// as a refused tool call has, and as data a JSON object with MetaEffect,
// MetaDecisionID and MetaApprovalID.
//
// Unchecked by default, since they hand a caller nothing a policy
// decides: initialize, ping, server/discover, logging/setLevel,
// resources/unsubscribe, the client's notifications, and the lists
// resources/list, resources/templates/list and prompts/list, which name
// what there is (unfiltered: WithListFilter filters only tools/list) but
// hand none of it over; reading any of it is checked.
// UnsafeUncheckedMethods lets more methods through unchecked; tools/call
// is always checked. The server's log messages (Session.Log) reach a
// client that asks for them, with logging/setLevel or per request:
// log nothing to a session that its caller may not see.
//
// A subscription is checked when it is made, and is not undone when the
// agent's access ends. The notifications that follow
// (notifications/resources/updated) name a URI (the one subscribed to,
// or one under it) and carry none of its content, which a read fetches,
// checked again: once the agent's credential is revoked or its access
// narrowed, the reads are refused.
//
// # Listing tools
//
// With WithListFilter, tools/list shows a caller only the tools the filter
// lets through; the rest of the list, and its cursor, are unchanged, and a
// filtered list is marked private for caches. Without it the list is not
// filtered. Hiding a tool is a courtesy to the model, never the
// safeguard: every call is checked whether or not its tool was listed.
//
// The filter does not ask the checker. A Check is an act: it is audited,
// it counts against rate limits and the runaway breaker, and a
// needs-approval answer opens an approval and pages a person. A listing
// that probed every tool that way could suspend its own agent or flood the
// approvers. PolicyListFilter instead reads a policy, without side effects,
// and hides a tool only when that policy denies every call of it by the
// caller whatever the arguments: when no allow or needs_approval rule names
// the agent and the tool (and the default is deny), or when a deny rule
// without conditions or resources does. A rule's conditions and resources
// are taken to hold for some call, so a tool allowed only for small
// amounts, or only for some resources, stays listed.
//
// # Client
//
// ClientMiddleware, for Client.AddSendingMiddleware, checks each CallTool
// before it leaves the agent, with the identity and credential of the
// call's context, and fails a call that is not allowed with an error
// matching middleware.ErrDenied (or middleware.ErrApprovalRequired): the
// server never hears of it. Like ServerMiddleware it refuses a call that
// leaves out an argument the tool's input schema gives a default, which
// it reads with tools/list from the server, since a server that checks
// nothing itself would fill it in unchecked. Every other request that
// reads or acts is checked before it is sent too, mapped as
// ServerMiddleware maps it (see Resources, prompts and other methods);
// the SDK's Subscribe, under the protocol versions with
// subscriptions/listen, sends it with a context naming no agent, so it is
// refused unless UnsafeUncheckedMethods opts it out.
//
// # Bearer tokens (MCP authorization)
//
// TokenVerifier is an auth.TokenVerifier for auth.RequireBearerToken. It
// authenticates agenttrust credentials with Authenticate (signature,
// expiry, revocation and suspension, IP allowlist) and insists that a
// token was issued for this server (RFC 8707): a JWT's "aud" must be
// exactly the server's resource URI. Give the Client the same URI with
// agenttrust.TokenConfig.Audiences; the verifier checks the audience again
// itself, so a client configured with several audiences cannot let a
// token for another service in. Macaroon tokens (att_) carry no audience,
// so any server they are shown to could replay them elsewhere: they are
// refused unless UnsafeAcceptUnboundTokens is given. API keys, the
// long-lived root credentials, are never accepted: exchange them for a
// token (Client.ExchangeJWT) bound to the server.
//
// ProtectedResourceHandler serves the server's protected resource metadata
// (RFC 9728) at the address MetadataURL computes, and auth.RequireBearerToken
// names that address in its WWW-Authenticate challenge. Name an agenttrust
// server (agenttrust serve, or package server with WithIssuer) as its
// authorization server: MCP clients then find its OAuth metadata and get
// a JWT for this server from its token endpoint (client_credentials with
// an agent's API key, or RFC 8693 token exchange), as the MCP TypeScript
// SDK's ClientCredentialsProvider does. An MCP server fronting a central
// agenttrust server verifies bearers through it with remote.Client as the
// Authenticator; see examples/mcp-http. The address a token was presented
// from then travels to the central server, which judges IP allowlists by
// it only when it trusts the MCP server as a proxy (serve
// --trusted-proxy): otherwise a credential with an IP allowlist is
// refused, never judged by the MCP server's own address.
//
// # Concurrency
//
// Everything this package returns is safe for concurrent use.
package mcp
