package genkit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/firebase/genkit/go/ai"

	"github.com/agenttrust/agenttrust"
)

// Option configures Middleware and WrapTool.
type Option func(*guard)

// WithResource derives Request.Resource from the tool call.
func WithResource(f func(tool string, args map[string]any) string) Option {
	return func(g *guard) { g.resource = f }
}

// WithAttributes derives Request.Attributes from the tool call, replacing
// the input.
func WithAttributes(f func(tool string, args map[string]any) map[string]any) Option {
	return func(g *guard) { g.attributes = f }
}

// Pending is the metadata of the interrupt raised when a call needs
// approval; read it with ai.InterruptAs[Pending](part).
type Pending struct {
	ApprovalID string `json:"approval_id"`
	Tool       string `json:"tool"`
	Reason     string `json:"reason"`
}

// Middleware returns Genkit middleware, named "agenttrust", for
// ai.WithUse: its WrapTool hook checks every tool call with c. With a nil
// c every generation using it fails with agenttrust.ErrInvalidConfig.
func Middleware(c agenttrust.Checker, opts ...Option) ai.Middleware {
	return &middleware{wrap: WrapTool(c, opts...), nilChecker: c == nil}
}

type middleware struct {
	wrap       func(context.Context, *ai.ToolParams, ai.ToolNext) (*ai.MultipartToolResponse, error)
	nilChecker bool
}

func (*middleware) Name() string { return "agenttrust" }

func (m *middleware) New(context.Context) (*ai.Hooks, error) {
	if m.nilChecker {
		return nil, fmt.Errorf("%w: genkit.Middleware has a nil checker", agenttrust.ErrInvalidConfig)
	}
	return &ai.Hooks{WrapTool: m.wrap}, nil
}

// WrapTool returns the ai.Hooks.WrapTool hook that checks a tool call with
// c before the tool runs; see the package documentation. With a nil c it
// denies every call. It is safe for concurrent use.
func WrapTool(c agenttrust.Checker, opts ...Option) func(context.Context, *ai.ToolParams, ai.ToolNext) (*ai.MultipartToolResponse, error) {
	g := &guard{c: c}
	for _, o := range opts {
		o(g)
	}
	return func(ctx context.Context, p *ai.ToolParams, next ai.ToolNext) (*ai.MultipartToolResponse, error) {
		if g.c == nil {
			return denied("guard misconfigured"), nil
		}
		name := p.Tool.Name()
		req, ok := g.request(ctx, name, p.Request.Input)
		if !ok {
			return denied("tool input is not JSON"), nil
		}
		d, err := g.c.Check(ctx, req)
		switch {
		case err != nil:
			return denied(d.Reason), nil
		case d.Effect == agenttrust.Allow:
			return next(ctx, p)
		case d.Effect != agenttrust.NeedsApproval:
			return denied(d.Reason), nil
		case ai.IsToolResumed(ctx): // restarted, not approved in agenttrust
			return denied("approval " + d.ApprovalID + " not granted"), nil
		}
		return nil, ai.NewToolInterruptError(map[string]any{
			"approval_id": d.ApprovalID, "tool": name, "reason": d.Reason,
		})
	}
}

type guard struct {
	c          agenttrust.Checker
	resource   func(tool string, args map[string]any) string
	attributes func(tool string, args map[string]any) map[string]any
}

func (g *guard) request(ctx context.Context, name string, input any) (agenttrust.Request, bool) {
	req := agenttrust.Request{Tool: name}
	if id, ok := agenttrust.IdentityFrom(ctx); ok {
		req.AgentID, req.SessionID, req.OnBehalfOf = id.AgentID, id.SessionID, id.OnBehalfOf
	}
	req.Credential, _ = agenttrust.CredentialFrom(ctx)
	args, ok := input.(map[string]any)
	if !ok && input != nil {
		// A typed input (a restart may carry one): see it as the model's JSON.
		b, err := json.Marshal(input)
		var v any
		if err != nil || json.Unmarshal(b, &v) != nil {
			return req, false
		}
		if args, _ = v.(map[string]any); args == nil {
			args = map[string]any{"input": v}
		}
	}
	req.Attributes = args
	if g.resource != nil {
		req.Resource = g.resource(name, args)
	}
	if g.attributes != nil {
		req.Attributes = g.attributes(name, args)
	}
	return req, true
}

func denied(reason string) *ai.MultipartToolResponse {
	if reason == "" {
		reason = "no decision"
	}
	e := &agenttrust.DeniedError{Decision: agenttrust.Decision{Reason: reason}}
	return &ai.MultipartToolResponse{Output: map[string]any{"error": e.Error()}}
}
