package genkit

import (
	"context"
	"fmt"

	"github.com/firebase/genkit/go/ai"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// Option configures Middleware and WrapTool. It is a
// middleware.ToolCallOption, so middleware.ResourceKey and
// middleware.EditRequest serve too.
type Option = middleware.ToolCallOption

// WithResource derives Request.Resource from the tool call. args are the
// request's attributes (see the package documentation).
func WithResource(f func(tool string, args map[string]any) string) Option {
	if f == nil {
		return middleware.EditRequest(nil) // refuses every call, as a misconfiguration
	}
	return middleware.EditRequest(func(r *agenttrust.Request) { r.Resource = f(r.Tool, r.Attributes) })
}

// WithAttributes derives Request.Attributes from the tool call, replacing
// the input. Options apply in the order given.
func WithAttributes(f func(tool string, args map[string]any) map[string]any) Option {
	if f == nil {
		return middleware.EditRequest(nil) // refuses every call, as a misconfiguration
	}
	return middleware.EditRequest(func(r *agenttrust.Request) { r.Attributes = f(r.Tool, r.Attributes) })
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
	return &hooks{wrap: WrapTool(c, opts...), nilChecker: c == nil}
}

// hooks is the ai.Middleware Middleware returns.
type hooks struct {
	wrap       func(context.Context, *ai.ToolParams, ai.ToolNext) (*ai.MultipartToolResponse, error)
	nilChecker bool
}

func (*hooks) Name() string { return "agenttrust" }

func (m *hooks) New(context.Context) (*ai.Hooks, error) {
	if m.nilChecker {
		return nil, fmt.Errorf("%w: genkit.Middleware has a nil checker", agenttrust.ErrInvalidConfig)
	}
	return &ai.Hooks{WrapTool: m.wrap}, nil
}

// WrapTool returns the ai.Hooks.WrapTool hook that checks a tool call with
// c before the tool runs; see the package documentation. With a nil c it
// denies every call. It is safe for concurrent use.
func WrapTool(c agenttrust.Checker, opts ...Option) func(context.Context, *ai.ToolParams, ai.ToolNext) (*ai.MultipartToolResponse, error) {
	opts = append([]Option{middleware.InputKey("input")}, opts...)
	return func(ctx context.Context, p *ai.ToolParams, next ai.ToolNext) (*ai.MultipartToolResponse, error) {
		name := p.Tool.Name()
		// A restart that was not approved in agenttrust is not granted.
		all := append(opts[:len(opts):len(opts)], middleware.Resumed(ai.IsToolResumed(ctx)))
		d, err := middleware.CheckToolCallValue(ctx, c, name, p.Request.Input, all...)
		switch d.Effect {
		case agenttrust.Allow:
			return next(ctx, p)
		case agenttrust.NeedsApproval:
			return nil, ai.NewToolInterruptError(map[string]any{
				"approval_id": d.ApprovalID, "tool": name, "reason": d.Reason,
			})
		}
		return &ai.MultipartToolResponse{Output: map[string]any{"error": err.Error()}}, nil
	}
}
