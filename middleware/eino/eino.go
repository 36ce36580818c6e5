package eino

import (
	"context"

	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// Option configures Middleware. It is a middleware.ToolCallOption, so
// middleware.ResourceKey and middleware.EditRequest serve too.
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
// the decoded arguments. Options apply in the order given.
func WithAttributes(f func(tool string, args map[string]any) map[string]any) Option {
	if f == nil {
		return middleware.EditRequest(nil) // refuses every call, as a misconfiguration
	}
	return middleware.EditRequest(func(r *agenttrust.Request) { r.Attributes = f(r.Tool, r.Attributes) })
}

// Pending is the info of the interrupt raised when a call needs approval.
type Pending struct {
	ApprovalID string `json:"approval_id"`
	Tool       string `json:"tool"`
	Reason     string `json:"reason"`
}

// Eino checkpoints the interrupt's info with encoding/gob, which needs the
// type registered before any checkpoint is written or read; Eino's
// documented place for that is init.
func init() { schema.RegisterName[*Pending]("_agenttrust_eino_pending") }

// Middleware returns a tool middleware that checks every tool call with
// c; see the package documentation. With a nil c it denies every call. It
// is safe for concurrent use.
func Middleware(c agenttrust.Checker, opts ...Option) compose.ToolMiddleware {
	g := &guard{c: c, opts: append([]Option{middleware.InputKey("input")}, opts...)}
	text := func(s string) *schema.ToolResult {
		return &schema.ToolResult{Parts: []schema.ToolOutputPart{{Type: schema.ToolPartTypeText, Text: s}}}
	}
	return compose.ToolMiddleware{
		Invokable: func(next compose.InvokableToolEndpoint) compose.InvokableToolEndpoint {
			return wrap(g, next, func(s string) *compose.ToolOutput { return &compose.ToolOutput{Result: s} })
		},
		Streamable: func(next compose.StreamableToolEndpoint) compose.StreamableToolEndpoint {
			return wrap(g, next, func(s string) *compose.StreamToolOutput {
				return &compose.StreamToolOutput{Result: schema.StreamReaderFromArray([]string{s})}
			})
		},
		EnhancedInvokable: func(next compose.EnhancedInvokableToolEndpoint) compose.EnhancedInvokableToolEndpoint {
			return wrap(g, next, func(s string) *compose.EnhancedInvokableToolOutput {
				return &compose.EnhancedInvokableToolOutput{Result: text(s)}
			})
		},
		EnhancedStreamable: func(next compose.EnhancedStreamableToolEndpoint) compose.EnhancedStreamableToolEndpoint {
			return wrap(g, next, func(s string) *compose.EnhancedStreamableToolOutput {
				return &compose.EnhancedStreamableToolOutput{Result: schema.StreamReaderFromArray([]*schema.ToolResult{text(s)})}
			})
		},
	}
}

func wrap[O any](g *guard, next func(context.Context, *compose.ToolInput) (O, error), deny func(string) O) func(context.Context, *compose.ToolInput) (O, error) {
	return func(ctx context.Context, in *compose.ToolInput) (O, error) {
		denial, err := g.check(ctx, in)
		if err != nil {
			var zero O
			return zero, err
		}
		if denial != "" {
			return deny(denial), nil
		}
		return next(ctx, in)
	}
}

type guard struct {
	c    agenttrust.Checker
	opts []Option
}

// check returns "" to run the tool, the message that replaces its result,
// or an interrupt.
func (g *guard) check(ctx context.Context, in *compose.ToolInput) (string, error) {
	// A resume that names this tool answers its interrupt; one that does
	// not re-runs it as it was.
	target := false
	if was, _, _ := compose.GetInterruptState[string](ctx); was {
		target, _, _ = compose.GetResumeContext[any](ctx)
	}
	opts := append(g.opts[:len(g.opts):len(g.opts)], middleware.Resumed(target))
	d, err := middleware.CheckToolCall(ctx, g.c, in.Name, []byte(in.Arguments), opts...)
	switch d.Effect {
	case agenttrust.Allow:
		return "", nil
	case agenttrust.NeedsApproval:
		return "", compose.StatefulInterrupt(ctx, &Pending{ApprovalID: d.ApprovalID, Tool: in.Name, Reason: d.Reason}, d.ApprovalID)
	}
	return err.Error(), nil
}
