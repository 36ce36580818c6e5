package adk

import (
	"cmp"
	"fmt"
	"reflect"

	"google.golang.org/adk/v2/agent"
	"google.golang.org/adk/v2/agent/llmagent"
	"google.golang.org/adk/v2/plugin"
	"google.golang.org/adk/v2/tool"
	"google.golang.org/adk/v2/tool/agenttool"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// Option configures Plugin and BeforeTool. It is a
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
// the arguments. Options apply in the order given.
func WithAttributes(f func(tool string, args map[string]any) map[string]any) Option {
	if f == nil {
		return middleware.EditRequest(nil) // refuses every call, as a misconfiguration
	}
	return middleware.EditRequest(func(r *agenttrust.Request) { r.Attributes = f(r.Tool, r.Attributes) })
}

// Pending is the payload of the tool confirmation requested when a call
// needs approval.
type Pending struct {
	ApprovalID string `json:"approval_id"`
	Tool       string `json:"tool"`
	Reason     string `json:"reason"`
}

// Plugin returns an ADK plugin named "agenttrust" that checks every
// function tool call with c. It refuses agent tools (agenttool.New); see
// the package documentation. It is safe for concurrent use.
func Plugin(c agenttrust.Checker, opts ...Option) (*plugin.Plugin, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: adk.Plugin has a nil checker", agenttrust.ErrInvalidConfig)
	}
	return plugin.New(plugin.Config{Name: "agenttrust", BeforeToolCallback: beforeTool(c, true, opts)})
}

// BeforeTool returns the callback that checks a tool call with c; see the
// package documentation. With a nil c it denies every call.
func BeforeTool(c agenttrust.Checker, opts ...Option) llmagent.BeforeToolCallback {
	return beforeTool(c, false, opts)
}

// agentToolType is the type of ADK's agent tools, whose agent runs in a
// runner of its own: without the plugins of the runner calling it.
var agentToolType = reflect.TypeOf(agenttool.New(nil, nil))

const reasonAgentTool = "agent tool runs its agent's tools without the agenttrust plugin"

func beforeTool(c agenttrust.Checker, inPlugin bool, opts []Option) llmagent.BeforeToolCallback {
	return func(ctx agent.Context, t tool.Tool, args map[string]any) (map[string]any, error) {
		if inPlugin && reflect.TypeOf(t) == agentToolType {
			// The plugin would never see the sub-agent's tool calls:
			// refuse rather than let them run unchecked.
			e := &middleware.DeniedError{
				Decision: agenttrust.Decision{Reason: reasonAgentTool},
				Err:      fmt.Errorf("%w: adk.Plugin cannot check the tools of agent tool %q; give its agent adk.BeforeTool", agenttrust.ErrInvalidConfig, t.Name()),
			}
			return map[string]any{"error": e.Error()}, nil
		}
		conf := ctx.ToolConfirmation()
		if conf != nil && !conf.Confirmed {
			return denied("approval rejected"), nil
		}
		// Who is acting: what the context leaves empty, ADK knows.
		adkCaller := middleware.EditRequest(func(r *agenttrust.Request) {
			r.AgentID = cmp.Or(r.AgentID, ctx.AgentName())
			r.SessionID = cmp.Or(r.SessionID, ctx.SessionID())
			r.OnBehalfOf = cmp.Or(r.OnBehalfOf, ctx.UserID())
		})
		all := append([]Option{adkCaller, middleware.Resumed(conf != nil)}, opts...)
		d, err := middleware.CheckToolCallValue(ctx, c, t.Name(), args, all...)
		switch d.Effect {
		case agenttrust.Allow:
			return nil, nil // run the tool
		case agenttrust.NeedsApproval:
			p := Pending{ApprovalID: d.ApprovalID, Tool: t.Name(), Reason: d.Reason}
			if err := ctx.RequestConfirmation("agenttrust approval "+d.ApprovalID+": "+d.Reason, p); err != nil {
				return denied("approval could not be requested"), nil
			}
		}
		return map[string]any{"error": err.Error()}, nil
	}
}

func denied(reason string) map[string]any {
	e := &middleware.DeniedError{Decision: agenttrust.Decision{Reason: reason}}
	return map[string]any{"error": e.Error()}
}
