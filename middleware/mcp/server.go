package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/text/unicode/norm"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/middleware"
)

// The MCP methods this package looks at.
const (
	methodCallTool     = "tools/call"
	methodListTools    = "tools/list"
	methodReadResource = "resources/read"
	methodSubscribe    = "resources/subscribe"
	methodListen       = "subscriptions/listen"
	methodGetPrompt    = "prompts/get"
	methodComplete     = "completion/complete"
)

// methodTool is the prefix of the Tool of a request that is not a tool
// call: "mcp." and the method, such as "mcp.resources/read". A tool's
// name never holds a '/', so the two cannot meet.
const methodTool = "mcp."

// MaxListenSubscriptions bounds the resource URIs of one
// subscriptions/listen request, each of which is one check: a listen
// naming more is refused as invalid before any check.
const MaxListenSubscriptions = 64

// passes reports whether method goes through ServerMiddleware unchecked
// by default: the handshake, pings and notifications, the lists (which
// name what a caller may ask for, never hand it over), logging levels and
// unsubscribing, which gives nothing.
func passes(method string) bool {
	switch method {
	case "initialize", "ping", "server/discover", "logging/setLevel",
		"resources/unsubscribe", "resources/list", "resources/templates/list", "prompts/list",
		"notifications/initialized", "notifications/cancelled", "notifications/progress",
		"notifications/roots/list_changed":
		return true
	}
	return false
}

// Keys of the _meta of a refused tool call's result, for clients that
// want the decision without parsing the text.
const (
	MetaEffect     = "agenttrust/effect"      // "deny" or "needs_approval"
	MetaDecisionID = "agenttrust/decision_id" // the decision's id, when one was made
	MetaApprovalID = "agenttrust/approval_id" // the pending approval, for needs_approval
)

// Option configures ServerMiddleware and ClientMiddleware.
type Option func(*config)

type config struct {
	resourceArg string
	listFilter  ListFilter
	identity    func(*auth.TokenInfo) agenttrust.Identity
	unchecked   map[string]bool // methods UnsafeUncheckedMethods lets through
}

// ResourceArg names the tool argument whose value is the request's
// resource, such as ResourceArg("customer_id"). The value must be a string
// or an integer in its plain spelling of at most 2^53 in magnitude (a call
// with another kind, or with 1e2 or 100.0, which the SDK hands a tool as
// 100, is denied as invalid); when the argument is absent the resource is
// empty. It must be spelled as name is: the SDK hands a typed tool only
// the member of that exact name, so a call that sends it in another case
// ("Customer") is denied as invalid. It stays an attribute too.
func ResourceArg(name string) Option {
	return func(c *config) { c.resourceArg = name }
}

// WithListFilter makes ServerMiddleware show each caller, in tools/list,
// only the tools f lets through (see PolicyListFilter). ClientMiddleware
// ignores it.
func WithListFilter(f ListFilter) Option {
	return func(c *config) { c.listFilter = f }
}

// WithTokenIdentity sets how ServerMiddleware reads the caller from bearer
// token info made by a verifier other than TokenVerifier. The default
// takes UserID as the agent. It must not trust anything the verifier did
// not verify.
func WithTokenIdentity(f func(ti *auth.TokenInfo) agenttrust.Identity) Option {
	return func(c *config) { c.identity = f }
}

// UnsafeUncheckedMethods lets ServerMiddleware pass the named methods,
// such as "completion/complete", to the server without a check. Every
// method that reads or acts is checked by default (see the package doc);
// name here only those that hand a caller nothing a policy should decide.
// tools/call is always checked. ClientMiddleware likewise sends the
// named methods unchecked.
func UnsafeUncheckedMethods(methods ...string) Option {
	return func(c *config) {
		if c.unchecked == nil {
			c.unchecked = map[string]bool{}
		}
		for _, m := range methods {
			if m != methodCallTool {
				c.unchecked[m] = true
			}
		}
	}
}

// ListFilter reports whether tools/list shows tool to caller. caller is
// who ServerMiddleware found calling (see the package doc); its AgentID is
// empty when only an unverified credential is known.
type ListFilter func(ctx context.Context, caller agenttrust.Identity, tool *sdk.Tool) bool

// guard is the shared state of ServerMiddleware and ClientMiddleware.
type guard struct {
	checker agenttrust.Checker
	cfg     config
	call    []middleware.ToolCallOption // how a call becomes a request
}

func newGuard(checker agenttrust.Checker, opts []Option) *guard {
	g := &guard{checker: checker}
	for _, o := range opts {
		o(&g.cfg)
	}
	if g.cfg.identity == nil {
		g.cfg.identity = tokenIdentity
	}
	if g.cfg.resourceArg != "" {
		g.call = append(g.call, middleware.ResourceKey(g.cfg.resourceArg))
	}
	return g
}

func tokenIdentity(ti *auth.TokenInfo) agenttrust.Identity {
	return agenttrust.Identity{AgentID: ti.UserID}
}

// ServerMiddleware returns middleware for Server.AddReceivingMiddleware
// that checks every tools/call with checker before the tool's handler
// runs, and filters tools/list when WithListFilter is given. Every other
// method that reads or acts (resources/read, resources/subscribe,
// subscriptions/listen, prompts/get, completion/complete, and any custom
// method) is checked too, as the package doc maps it to a Request, and is
// answered with a *jsonrpc.Error when not allowed (CodeDenied, or
// jsonrpc.CodeInvalidParams for a request that cannot be checked);
// UnsafeUncheckedMethods opts methods out. See the package doc for where
// the caller and the request come from.
//
// A call that is not allowed is answered with a CallToolResult with
// IsError set, a text for the model (middleware.ToolResultMessage) and the
// decision in its _meta (MetaEffect, MetaDecisionID, MetaApprovalID); the
// handler does not run. A call that leaves out an argument to which the
// tool's input schema gives a default is refused as invalid: the SDK
// would fill it in for the tool after the check. An allowed call reaches the handler with the
// caller in its context (agenttrust.IdentityFrom, and CredentialFrom when
// it presented a token), for Guard or onward delegation. A nil checker
// refuses every call.
func ServerMiddleware(checker agenttrust.Checker, opts ...Option) sdk.Middleware {
	g := newGuard(checker, opts)
	return func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			switch method {
			case methodCallTool:
				return g.callTool(ctx, next, method, req)
			case methodListTools:
				if g.cfg.listFilter != nil {
					return g.listTools(ctx, next, method, req)
				}
				return next(ctx, method, req)
			}
			if passes(method) || g.cfg.unchecked[method] {
				return next(ctx, method, req)
			}
			return g.checkMethod(ctx, next, method, req)
		}
	}
}

func (g *guard) callTool(ctx context.Context, next sdk.MethodHandler, method string, req sdk.Request) (sdk.Result, error) {
	r, ok := req.(*sdk.CallToolRequest)
	if !ok || r.Params == nil {
		return refusal(denial("tool call not understood", fmt.Errorf("%w: tools/call without parameters", agenttrust.ErrInvalidRequest))), nil
	}
	if strings.Contains(r.Params.Name, "/") {
		// Not a tool name (the SDK's rules), and the form of a method's Tool.
		return refusal(denial("tool call not understood", fmt.Errorf("%w: tool name %q holds a '/', which only the Tool of another MCP method does", agenttrust.ErrInvalidRequest, r.Params.Name))), nil
	}
	cl, err := g.tokenCaller(req)
	if err != nil {
		return refusal(err), nil
	}
	list := func(cursor string) (sdk.Result, error) {
		return next(ctx, methodListTools, &sdk.ListToolsRequest{Session: r.Session, Params: &sdk.ListToolsParams{Cursor: cursor}, Extra: r.Extra})
	}
	if err := omittedDefault(list, r.Params.Name, r.Params.Arguments); err != nil {
		return refusal(err), nil
	}
	if err := g.resourceSpelling(r.Params.Arguments); err != nil {
		return refusal(err), nil
	}
	opts := g.call
	if cl != nil {
		// The verified token names the caller, not the context.
		opts = append(opts[:len(opts):len(opts)], middleware.EditRequest(func(r *agenttrust.Request) {
			r.AgentID, r.SessionID, r.OnBehalfOf = cl.id.AgentID, cl.id.SessionID, cl.id.OnBehalfOf
			r.Credential, r.RemoteAddr = cl.cred, cl.addr
		}))
	}
	d, err := middleware.CheckToolCall(ctx, g.checker, r.Params.Name, r.Params.Arguments, opts...)
	if err != nil {
		return refusal(err), nil
	}
	return next(cl.context(ctx, d), method, req)
}

// context returns ctx with the caller the token named, for the handler.
func (cl *caller) context(ctx context.Context, d agenttrust.Decision) context.Context {
	if cl == nil {
		return ctx
	}
	agent := d.AgentID
	if agent == "" {
		agent = cl.id.AgentID
	}
	ctx = agenttrust.WithAgent(ctx, agent, cl.id.SessionID)
	if cl.id.OnBehalfOf != "" {
		ctx = agenttrust.WithOnBehalfOf(ctx, cl.id.OnBehalfOf)
	}
	if cl.cred != "" {
		ctx = agenttrust.WithCredential(ctx, cl.cred)
	}
	return ctx
}

// act is one Check a request other than a tool call makes: its Tool,
// Resource and Attributes.
type act struct {
	tool     string
	resource string
	attrs    any // checked as its JSON, as a tool call's arguments are
}

// checkMethod checks a request other than tools/call and tools/list
// before its handler runs: each act it asks for (one, or a subscription
// per resource of subscriptions/listen) must be allowed. Anything else is
// answered with a JSON-RPC error and the handler does not run.
func (g *guard) checkMethod(ctx context.Context, next sdk.MethodHandler, method string, req sdk.Request) (sdk.Result, error) {
	acts, err := requestActs(method, req)
	if err != nil {
		return nil, rpcError(err)
	}
	cl, err := g.tokenCaller(req)
	if err != nil {
		return nil, rpcError(err)
	}
	var d agenttrust.Decision
	for _, a := range acts {
		opts := []middleware.ToolCallOption{middleware.EditRequest(func(r *agenttrust.Request) {
			r.Resource = a.resource
			if cl != nil {
				r.AgentID, r.SessionID, r.OnBehalfOf = cl.id.AgentID, cl.id.SessionID, cl.id.OnBehalfOf
				r.Credential, r.RemoteAddr = cl.cred, cl.addr
			}
		})}
		if d, err = middleware.CheckToolCallValue(ctx, g.checker, a.tool, a.attrs, opts...); err != nil {
			return nil, rpcError(err)
		}
	}
	return next(cl.context(ctx, d), method, req)
}

// uriAct is the act tool on the resource uri names: its canonical form
// (see resourceURI), with its query, if any, as the attribute "query".
func uriAct(tool, uri string) (act, error) {
	resource, query, hasQuery, err := resourceURI(uri, false)
	if err != nil {
		return act{}, err
	}
	a := act{tool: tool, resource: resource}
	if hasQuery {
		a.attrs = map[string]string{"query": query}
	}
	return a, nil
}

// requestActs maps a request to the acts it asks for (see the package
// doc). A request whose parameters are missing is refused.
func requestActs(method string, req sdk.Request) ([]act, error) {
	invalid := func(what string) error {
		return denial("request not understood", fmt.Errorf("%w: %s %s", agenttrust.ErrInvalidRequest, method, what))
	}
	if req == nil {
		return nil, invalid("without a request")
	}
	tool := methodTool + method
	// By the parameters, so that a server's and a client's requests map
	// alike.
	switch p := req.GetParams().(type) {
	case *sdk.ReadResourceParams:
		if p == nil {
			return nil, invalid("without parameters")
		}
		a, err := uriAct(tool, p.URI)
		return []act{a}, err
	case *sdk.SubscribeParams:
		if p == nil {
			return nil, invalid("without parameters")
		}
		a, err := uriAct(tool, p.URI)
		return []act{a}, err
	case *sdk.SubscriptionsListenParams:
		if p == nil || p.Notifications == nil {
			return nil, invalid("without parameters")
		}
		// Each resource it listens to is a subscription, as
		// resources/subscribe makes one; list changes give nothing.
		// Each is a check: their number is bounded, so that the work
		// one request buys does not grow with its size.
		if n := len(p.Notifications.ResourceSubscriptions); n > MaxListenSubscriptions {
			return nil, invalid(fmt.Sprintf("names %d resources; at most %d are allowed in one listen", n, MaxListenSubscriptions))
		}
		acts := make([]act, 0, len(p.Notifications.ResourceSubscriptions))
		for _, uri := range p.Notifications.ResourceSubscriptions {
			a, err := uriAct(methodTool+methodSubscribe, uri)
			if err != nil {
				return nil, err
			}
			acts = append(acts, a)
		}
		return acts, nil
	case *sdk.GetPromptParams:
		if p == nil {
			return nil, invalid("without parameters")
		}
		a := act{tool: tool, resource: p.Name}
		if p.Arguments != nil {
			a.attrs = p.Arguments
		}
		return []act{a}, nil
	case *sdk.CompleteParams:
		if p == nil || p.Ref == nil {
			return nil, invalid("without a reference")
		}
		// The resource is what is completed: the prompt's name, or
		// the resource template's URI template; the argument and its
		// partial value, and the arguments already given, are the
		// attributes.
		a := act{tool: tool, resource: p.Ref.Name}
		if p.Ref.Type == "ref/resource" {
			var err error
			if a.resource, _, _, err = resourceURI(p.Ref.URI, true); err != nil {
				return nil, err
			}
		}
		attrs := map[string]any{"ref_type": p.Ref.Type, "argument": p.Argument.Name, "value": p.Argument.Value}
		if p.Context != nil && p.Context.Arguments != nil {
			attrs["arguments"] = p.Context.Arguments
		}
		a.attrs = attrs
		return []act{a}, nil
	}
	switch method {
	case methodReadResource, methodSubscribe, methodListen, methodGetPrompt, methodComplete:
		return nil, invalid("of an unexpected type")
	}
	// Any other method (custom ones, those a newer SDK adds) is one act
	// named after it, with no resource.
	return []act{{tool: tool}}, nil
}

// maxToolPages bounds the tools/list pages read to find a tool's schema.
const maxToolPages = 1000

// omittedDefault refuses a call that leaves out an argument to which the
// tool's input schema gives a default, at the top level or inside an
// object argument the call sends. The SDK fills such an argument in for
// a typed tool (sdk.AddTool) after this middleware has checked the call,
// so the tool would act on a value no policy saw: the customer a deny
// rule names, or an amount "attr.amount?" let pass as missing. The call
// must send it. The schema is read through tools/list with list, which
// returns one page (below the server middleware; from the server, for the
// client middleware); a call of a tool not listed is left to the server,
// which refuses it, and a list that cannot be read refuses the call.
func omittedDefault(list func(cursor string) (sdk.Result, error), name string, args json.RawMessage) error {
	var tool *sdk.Tool
	cursor := ""
	for page := 0; tool == nil; page++ {
		res, err := list(cursor)
		lr, ok := res.(*sdk.ListToolsResult)
		if err != nil || !ok || lr == nil || page >= maxToolPages {
			return denial("tool schema unavailable", fmt.Errorf("%w: the input schema of tool %q cannot be read to see what the SDK fills in", agenttrust.ErrInvalidConfig, name))
		}
		for _, t := range lr.Tools {
			if t != nil && t.Name == name {
				tool = t
				break
			}
		}
		if lr.NextCursor == "" {
			break
		}
		cursor = lr.NextCursor
	}
	if tool == nil || tool.InputSchema == nil {
		return nil
	}
	b, err := json.Marshal(tool.InputSchema)
	var schema schemaDefaults
	if err == nil {
		err = json.Unmarshal(b, &schema)
	}
	if err != nil {
		return denial("tool schema unavailable", fmt.Errorf("%w: the input schema of tool %q: %v", agenttrust.ErrInvalidConfig, name, err))
	}
	if path := schema.omitted(args, ""); path != "" {
		return denial("invalid tool arguments", fmt.Errorf("%w: arguments: %q is left out, and the tool's input schema gives it a default the tool would act on unchecked: send it", agenttrust.ErrInvalidRequest, path))
	}
	return nil
}

// resourceSpelling refuses arguments whose resource argument is spelled
// otherwise than ResourceArg names it ("Customer" for customer). The check
// takes such a member as the resource, as encoding/json would fill a
// field from it, but the SDK decodes a typed tool's arguments matching
// names exactly: the tool would act on no resource at all ("", 0) while
// the check judged another. Arguments that are not an object are left to
// the argument checks.
func (g *guard) resourceSpelling(args json.RawMessage) error {
	name := g.cfg.resourceArg
	if name == "" {
		return nil
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(args, &members) != nil {
		return nil
	}
	folded := string(cond.AppendFolded(nil, name))
	for k := range members {
		if k != name && string(cond.AppendFolded(nil, k)) == folded {
			return denial("invalid tool arguments", fmt.Errorf("%w: arguments: %q names the resource only when spelled %q", agenttrust.ErrInvalidRequest, k, name))
		}
	}
	return nil
}

// schemaDefaults is what omittedDefault reads of a JSON Schema: the
// properties, as jsonschema.Resolved.ApplyDefaults follows them, and
// whether each has a default.
type schemaDefaults struct {
	Properties map[string]*schemaDefaults `json:"properties"`
	Default    json.RawMessage            `json:"default"`
}

// omitted returns the path of the first property of s that has a default
// and that the JSON object args leaves out ("" for none). Empty args and
// null leave out every property; a value that is not an object is left
// for the argument checks to refuse.
func (s *schemaDefaults) omitted(args json.RawMessage, path string) string {
	var members map[string]json.RawMessage
	if trimmed := strings.TrimSpace(string(args)); trimmed != "" && trimmed != "null" {
		if trimmed[0] != '{' || json.Unmarshal(args, &members) != nil {
			return ""
		}
	}
	for name, p := range s.Properties {
		if p == nil {
			continue
		}
		v, ok := members[name]
		switch {
		case !ok && p.hasDefault(0):
			// The SDK fills in a missing object whose properties
			// have defaults, too.
			return path + name
		case ok && len(p.Properties) > 0:
			if inner := p.omitted(v, path+name+"."); inner != "" {
				return inner
			}
		}
	}
	return ""
}

// hasDefault reports whether s or a property of it, at any depth, has a
// default.
func (s *schemaDefaults) hasDefault(depth int) bool {
	if s.Default != nil || depth > 64 {
		return true
	}
	for _, p := range s.Properties {
		if p != nil && p.hasDefault(depth+1) {
			return true
		}
	}
	return false
}

func (g *guard) listTools(ctx context.Context, next sdk.MethodHandler, method string, req sdk.Request) (sdk.Result, error) {
	res, err := next(ctx, method, req)
	lr, ok := res.(*sdk.ListToolsResult)
	if err != nil || !ok || lr == nil {
		return res, err
	}
	shown := make([]*sdk.Tool, 0, len(lr.Tools))
	if cl, err := g.tokenCaller(req); err == nil {
		var id agenttrust.Identity
		if cl != nil {
			id = cl.id
		} else {
			id, _ = agenttrust.IdentityFrom(ctx)
		}
		for _, t := range lr.Tools {
			if t != nil && g.cfg.listFilter(ctx, id, t) {
				shown = append(shown, t)
			}
		}
	}
	lr.Tools = shown
	// The list now depends on who asked: no shared cache may serve it.
	lr.CacheScope = "private"
	return lr, nil
}

// caller is who is making a request, as its bearer token says.
type caller struct {
	id   agenttrust.Identity
	cred string
	addr netip.Addr
}

// tokenCaller finds who is calling from the request's bearer token info;
// without any it returns nil, and the caller is the context's.
func (g *guard) tokenCaller(req sdk.Request) (*caller, error) {
	ex := req.GetExtra()
	if ex == nil || ex.TokenInfo == nil {
		return nil, nil
	}
	ti := ex.TokenInfo
	cl := &caller{id: g.cfg.identity(ti)}
	if _, ours := ti.Extra[ExtraCredentialID].(string); ours {
		// Made by TokenVerifier from this very request's bearer token:
		// check the token itself, so its caveats hold on every call.
		cl.cred = bearerToken(ex.Header)
		if cl.cred == "" {
			return nil, denial("bearer token missing", fmt.Errorf("%w: token info without a bearer token", agenttrust.ErrUnauthorized))
		}
		cl.addr, _ = ti.Extra[ExtraRemoteAddr].(netip.Addr)
	}
	return cl, nil
}

// bearerToken reads "Authorization: Bearer <token>" as auth.RequireBearerToken does.
func bearerToken(h http.Header) string {
	fields := strings.Fields(h.Get("Authorization"))
	if len(fields) != 2 || !strings.EqualFold(fields[0], "bearer") {
		return ""
	}
	return fields[1]
}

// denial is the error of a call refused before any check.
func denial(reason string, err error) error {
	return &middleware.DeniedError{Decision: agenttrust.Decision{Reason: reason}, Err: err}
}

// CodeDenied is the JSON-RPC error code with which ServerMiddleware
// answers a request other than tools/call that was not allowed. The
// error's data is a JSON object with the decision under MetaEffect,
// MetaDecisionID and MetaApprovalID.
const CodeDenied = -32050

// rpcError is the JSON-RPC error of a request that was not allowed: one
// that could not be checked as sent is invalid params; any other is
// CodeDenied. The message is the one a refused tool call's result has.
func rpcError(err error) error {
	meta := refusal(err).Meta
	data, _ := json.Marshal(meta)
	code := int64(CodeDenied)
	if errors.Is(err, agenttrust.ErrInvalidRequest) {
		code = jsonrpc.CodeInvalidParams
	}
	return &jsonrpc.Error{Code: code, Message: middleware.ToolResultMessage(err), Data: data}
}

// refusal is the tool result of a call that was not allowed.
func refusal(err error) *sdk.CallToolResult {
	meta := sdk.Meta{MetaEffect: agenttrust.Deny.String()}
	var d agenttrust.Decision
	var ae *middleware.ApprovalRequiredError
	var de *middleware.DeniedError
	switch {
	case errors.As(err, &ae):
		d = ae.Decision
		meta[MetaEffect] = agenttrust.NeedsApproval.String()
		meta[MetaApprovalID] = ae.ApprovalID
	case errors.As(err, &de):
		d = de.Decision
	}
	if d.ID != (agenttrust.DecisionID{}) {
		meta[MetaDecisionID] = d.ID.String()
	}
	return &sdk.CallToolResult{
		Meta:    meta,
		Content: []sdk.Content{&sdk.TextContent{Text: middleware.ToolResultMessage(err)}},
		IsError: true,
	}
}

// PolicyListFilter returns a ListFilter that hides a tool only when p
// denies every call of it by the caller, whatever its arguments and
// resource: when no allow or needs_approval rule names the caller's agent
// and the tool (and p's default is deny), or when a deny rule without
// conditions or resources does. Conditions and resources of allow and
// needs_approval rules are assumed to hold for some call, so a tool
// allowed for some arguments stays listed. A caller whose agent is unknown
// sees every tool. Rate limits are ignored.
//
// The filter reads p as it was when PolicyListFilter was called, asks no
// checker and records nothing. After a policy change, make a new one.
func PolicyListFilter(p *agenttrust.Policy) (ListFilter, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: PolicyListFilter of a nil policy", agenttrust.ErrInvalidConfig)
	}
	// The policy as it would decide a call with the most favourable
	// arguments: every allow and needs_approval rule as if its conditions
	// and resources held, and only the deny rules that hold regardless.
	q := &agenttrust.Policy{Default: p.Default}
	for _, r := range p.Rules {
		switch r.Effect {
		case agenttrust.Allow, agenttrust.NeedsApproval:
			r.When, r.Resources = nil, nil
		default:
			if len(r.When) > 0 || len(r.Resources) > 0 {
				continue
			}
		}
		q.Rules = append(q.Rules, r)
	}
	e, err := agenttrust.NewRuleEngine(q)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, caller agenttrust.Identity, tool *sdk.Tool) bool {
		if caller.AgentID == "" {
			return true
		}
		res, err := e.Evaluate(ctx, &agenttrust.PolicyInput{
			AgentID: norm.NFC.String(caller.AgentID), Tool: norm.NFC.String(tool.Name),
			SessionID: caller.SessionID, OnBehalfOf: caller.OnBehalfOf,
		})
		return err == nil && res.Effect != agenttrust.Deny
	}, nil
}
