package eino

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/agenttrust/agenttrust"
)

// Option configures Middleware.
type Option func(*guard)

// WithResource derives Request.Resource from the tool call.
func WithResource(f func(tool string, args map[string]any) string) Option {
	return func(g *guard) { g.resource = f }
}

// WithAttributes derives Request.Attributes from the tool call, replacing
// the decoded arguments.
func WithAttributes(f func(tool string, args map[string]any) map[string]any) Option {
	return func(g *guard) { g.attributes = f }
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
	g := &guard{c: c}
	for _, o := range opts {
		o(g)
	}
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
	c          agenttrust.Checker
	resource   func(tool string, args map[string]any) string
	attributes func(tool string, args map[string]any) map[string]any
}

// check returns "" to run the tool, the message that replaces its result,
// or an interrupt.
func (g *guard) check(ctx context.Context, in *compose.ToolInput) (string, error) {
	if g.c == nil {
		return denied("guard misconfigured"), nil
	}
	req, ok := g.request(ctx, in)
	if !ok {
		return denied("tool arguments are not JSON"), nil
	}
	d, err := g.c.Check(ctx, req)
	switch {
	case err != nil:
		return denied(d.Reason), nil
	case d.Effect == agenttrust.Allow:
		return "", nil
	case d.Effect != agenttrust.NeedsApproval:
		return denied(d.Reason), nil
	}
	if was, _, _ := compose.GetInterruptState[string](ctx); was {
		if target, _, _ := compose.GetResumeContext[any](ctx); target {
			return denied("approval " + d.ApprovalID + " not granted"), nil
		}
	}
	return "", compose.StatefulInterrupt(ctx, &Pending{ApprovalID: d.ApprovalID, Tool: req.Tool, Reason: d.Reason}, d.ApprovalID)
}

func (g *guard) request(ctx context.Context, in *compose.ToolInput) (agenttrust.Request, bool) {
	req := agenttrust.Request{Tool: in.Name}
	if id, ok := agenttrust.IdentityFrom(ctx); ok {
		req.AgentID, req.SessionID, req.OnBehalfOf = id.AgentID, id.SessionID, id.OnBehalfOf
	}
	req.Credential, _ = agenttrust.CredentialFrom(ctx)
	var args map[string]any
	if s := strings.TrimSpace(in.Arguments); s != "" {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return req, false
		}
		if args, _ = v.(map[string]any); args == nil {
			args = map[string]any{"input": v}
		}
	}
	req.Attributes = args
	if g.resource != nil {
		req.Resource = g.resource(in.Name, args)
	}
	if g.attributes != nil {
		req.Attributes = g.attributes(in.Name, args)
	}
	return req, true
}

func denied(reason string) string {
	if reason == "" {
		reason = "no decision"
	}
	return (&agenttrust.DeniedError{Decision: agenttrust.Decision{Reason: reason}}).Error()
}
