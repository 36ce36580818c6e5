package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/text/unicode/norm"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// The MCP methods this package looks at.
const (
	methodCallTool  = "tools/call"
	methodListTools = "tools/list"
)

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
}

// ResourceArg names the tool argument whose value is the request's
// resource, such as ResourceArg("customer_id"). The value must be a string
// or a number (a call with another kind is denied as invalid); when the
// argument is absent the resource is empty. It stays an attribute too.
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

// ListFilter reports whether tools/list shows tool to caller. caller is
// who ServerMiddleware found calling (see the package doc); its AgentID is
// empty when only an unverified credential is known.
type ListFilter func(ctx context.Context, caller agenttrust.Identity, tool *sdk.Tool) bool

// guard is the shared state of ServerMiddleware and ClientMiddleware.
type guard struct {
	checker agenttrust.Checker
	cfg     config
	cfgErr  error
}

func newGuard(checker agenttrust.Checker, what string, opts []Option) *guard {
	g := &guard{checker: checker}
	for _, o := range opts {
		o(&g.cfg)
	}
	if g.cfg.identity == nil {
		g.cfg.identity = tokenIdentity
	}
	if checker == nil {
		g.cfgErr = fmt.Errorf("%w: %s has a nil checker", agenttrust.ErrInvalidConfig, what)
	}
	return g
}

func tokenIdentity(ti *auth.TokenInfo) agenttrust.Identity {
	return agenttrust.Identity{AgentID: ti.UserID}
}

// ServerMiddleware returns middleware for Server.AddReceivingMiddleware
// that checks every tools/call with checker before the tool's handler
// runs, and filters tools/list when WithListFilter is given. See the
// package doc for where the caller and the request come from.
//
// A call that is not allowed is answered with a CallToolResult with
// IsError set, a text for the model (middleware.ToolResultMessage) and the
// decision in its _meta (MetaEffect, MetaDecisionID, MetaApprovalID); the
// handler does not run. An allowed call reaches the handler with the
// caller in its context (agenttrust.IdentityFrom, and CredentialFrom when
// it presented a token), for Guard or onward delegation. A nil checker
// refuses every call.
func ServerMiddleware(checker agenttrust.Checker, opts ...Option) sdk.Middleware {
	g := newGuard(checker, "ServerMiddleware", opts)
	return func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			switch method {
			case methodCallTool:
				return g.callTool(ctx, next, method, req)
			case methodListTools:
				if g.cfg.listFilter != nil {
					return g.listTools(ctx, next, method, req)
				}
			}
			return next(ctx, method, req)
		}
	}
}

func (g *guard) callTool(ctx context.Context, next sdk.MethodHandler, method string, req sdk.Request) (sdk.Result, error) {
	r, ok := req.(*sdk.CallToolRequest)
	if !ok || r.Params == nil {
		return refusal(invalid("tool call not understood", fmt.Errorf("%w: tools/call without parameters", agenttrust.ErrInvalidRequest))), nil
	}
	cl, err := g.caller(ctx, req)
	if err != nil {
		return refusal(err), nil
	}
	d, err := g.check(ctx, cl, r.Params.Name, r.Params.Arguments)
	if err != nil {
		return refusal(err), nil
	}
	if cl.fromToken {
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
	}
	return next(ctx, method, req)
}

func (g *guard) listTools(ctx context.Context, next sdk.MethodHandler, method string, req sdk.Request) (sdk.Result, error) {
	res, err := next(ctx, method, req)
	lr, ok := res.(*sdk.ListToolsResult)
	if err != nil || !ok || lr == nil {
		return res, err
	}
	shown := make([]*sdk.Tool, 0, len(lr.Tools))
	if cl, err := g.caller(ctx, req); err == nil {
		for _, t := range lr.Tools {
			if t != nil && g.cfg.listFilter(ctx, cl.id, t) {
				shown = append(shown, t)
			}
		}
	}
	lr.Tools = shown
	// The list now depends on who asked: no shared cache may serve it.
	lr.CacheScope = "private"
	return lr, nil
}

// caller is who is making a request, as far as this server knows.
type caller struct {
	id        agenttrust.Identity
	cred      string
	addr      netip.Addr
	fromToken bool // id came from bearer token info, not the context
}

// caller finds who is calling: bearer token info first, then the context.
func (g *guard) caller(ctx context.Context, req sdk.Request) (caller, error) {
	if ex := req.GetExtra(); ex != nil && ex.TokenInfo != nil {
		ti := ex.TokenInfo
		cl := caller{id: g.cfg.identity(ti), fromToken: true}
		if _, ours := ti.Extra[ExtraCredentialID].(string); ours {
			// Made by TokenVerifier from this very request's bearer token:
			// check the token itself, so its caveats hold on every call.
			cl.cred = bearerToken(ex.Header)
			if cl.cred == "" {
				d := agenttrust.Decision{Reason: "bearer token missing"}
				return cl, &agenttrust.DeniedError{Decision: d, Err: fmt.Errorf("%w: token info without a bearer token", agenttrust.ErrUnauthorized)}
			}
			cl.addr, _ = ti.Extra[ExtraRemoteAddr].(netip.Addr)
		}
		return cl, nil
	}
	id, _ := agenttrust.IdentityFrom(ctx)
	cred, _ := agenttrust.CredentialFrom(ctx)
	return caller{id: id, cred: cred}, nil
}

// bearerToken reads "Authorization: Bearer <token>" as auth.RequireBearerToken does.
func bearerToken(h http.Header) string {
	fields := strings.Fields(h.Get("Authorization"))
	if len(fields) != 2 || !strings.EqualFold(fields[0], "bearer") {
		return ""
	}
	return fields[1]
}

// check makes one Check of a tool call and returns, unless it is an
// Allow, an error like middleware.CheckToolCall's: an
// *agenttrust.DeniedError or an *agenttrust.ApprovalRequiredError.
func (g *guard) check(ctx context.Context, cl caller, tool string, args []byte) (agenttrust.Decision, error) {
	if g.cfgErr != nil {
		return invalidDecision("tool call check misconfigured", g.cfgErr)
	}
	var attrs map[string]any
	if trimmed := bytes.TrimSpace(args); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		var err error
		if attrs, err = middleware.JSONAttributes(trimmed); err != nil {
			return invalidDecision("tool arguments are not a JSON object", err)
		}
	}
	req := agenttrust.Request{
		AgentID: cl.id.AgentID, SessionID: cl.id.SessionID, OnBehalfOf: cl.id.OnBehalfOf,
		Credential: cl.cred, RemoteAddr: cl.addr, Tool: tool, Attributes: attrs,
	}
	if g.cfg.resourceArg != "" {
		notScalar := func() (agenttrust.Decision, error) {
			return invalidDecision("tool argument "+g.cfg.resourceArg+" must be a string",
				fmt.Errorf("%w: argument %q names the resource and must be a string or a number", agenttrust.ErrInvalidRequest, g.cfg.resourceArg))
		}
		switch v := attrs[g.cfg.resourceArg].(type) {
		case nil:
		case string:
			// JSONAttributes turns objects and arrays into their JSON
			// text: never let one pass for a resource name.
			if strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[") {
				var raw map[string]json.RawMessage
				if json.Unmarshal(args, &raw) != nil || !bytes.HasPrefix(bytes.TrimSpace(raw[g.cfg.resourceArg]), []byte(`"`)) {
					return notScalar()
				}
			}
			req.Resource = v
		case json.Number:
			req.Resource = v.String()
		default:
			return notScalar()
		}
	}
	d, err := g.checker.Check(ctx, req)
	switch {
	case err != nil:
		d.Effect, d.ApprovalID = agenttrust.Deny, ""
		return d, &agenttrust.DeniedError{Decision: d, Err: err}
	case d.Effect == agenttrust.Allow:
		return d, nil
	case d.Effect == agenttrust.NeedsApproval:
		return d, &agenttrust.ApprovalRequiredError{Decision: d, ApprovalID: d.ApprovalID}
	}
	return d, &agenttrust.DeniedError{Decision: d}
}

func invalid(reason string, err error) error {
	_, e := invalidDecision(reason, err)
	return e
}

func invalidDecision(reason string, err error) (agenttrust.Decision, error) {
	d := agenttrust.Decision{Reason: reason}
	return d, &agenttrust.DeniedError{Decision: d, Err: err}
}

// refusal is the tool result of a call that was not allowed.
func refusal(err error) *sdk.CallToolResult {
	meta := sdk.Meta{MetaEffect: agenttrust.Deny.String()}
	var d agenttrust.Decision
	var ae *agenttrust.ApprovalRequiredError
	var de *agenttrust.DeniedError
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
