package adk

import (
	"fmt"

	"google.golang.org/adk/v2/agent"
	"google.golang.org/adk/v2/agent/llmagent"
	"google.golang.org/adk/v2/plugin"
	"google.golang.org/adk/v2/tool"

	"github.com/agenttrust/agenttrust"
)

// Option configures Plugin and BeforeTool.
type Option func(*config)

type config struct {
	resource   func(tool string, args map[string]any) string
	attributes func(tool string, args map[string]any) map[string]any
}

// WithResource derives Request.Resource from the tool call.
func WithResource(f func(tool string, args map[string]any) string) Option {
	return func(c *config) { c.resource = f }
}

// WithAttributes derives Request.Attributes from the tool call, replacing
// the arguments.
func WithAttributes(f func(tool string, args map[string]any) map[string]any) Option {
	return func(c *config) { c.attributes = f }
}

// Pending is the payload of the tool confirmation requested when a call
// needs approval.
type Pending struct {
	ApprovalID string `json:"approval_id"`
	Tool       string `json:"tool"`
	Reason     string `json:"reason"`
}

// Plugin returns an ADK plugin named "agenttrust" that checks every
// function tool call with c. It is safe for concurrent use.
func Plugin(c agenttrust.Checker, opts ...Option) (*plugin.Plugin, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: adk.Plugin has a nil checker", agenttrust.ErrInvalidConfig)
	}
	return plugin.New(plugin.Config{Name: "agenttrust", BeforeToolCallback: BeforeTool(c, opts...)})
}

// BeforeTool returns the callback that checks a tool call with c; see the
// package documentation. With a nil c it denies every call.
func BeforeTool(c agenttrust.Checker, opts ...Option) llmagent.BeforeToolCallback {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return func(ctx agent.Context, t tool.Tool, args map[string]any) (map[string]any, error) {
		if c == nil {
			return denied("guard misconfigured"), nil
		}
		conf := ctx.ToolConfirmation()
		if conf != nil && !conf.Confirmed {
			return denied("approval rejected"), nil
		}
		req := request(ctx, &cfg, t.Name(), args)
		d, err := c.Check(ctx, req)
		switch {
		case err != nil:
			return denied(d.Reason), nil
		case d.Effect == agenttrust.Allow:
			return nil, nil // run the tool
		case d.Effect != agenttrust.NeedsApproval:
			return denied(d.Reason), nil
		case conf != nil: // confirmed in ADK, not approved in agenttrust
			return denied("approval " + d.ApprovalID + " not granted"), nil
		}
		p := Pending{ApprovalID: d.ApprovalID, Tool: req.Tool, Reason: d.Reason}
		if err := ctx.RequestConfirmation("agenttrust approval "+d.ApprovalID+": "+d.Reason, p); err != nil {
			return denied("approval could not be requested"), nil
		}
		ae := &agenttrust.ApprovalRequiredError{Decision: d, ApprovalID: d.ApprovalID}
		return map[string]any{"error": ae.Error()}, nil
	}
}

func request(ctx agent.Context, cfg *config, name string, args map[string]any) agenttrust.Request {
	req := agenttrust.Request{Tool: name, Attributes: args}
	id, _ := agenttrust.IdentityFrom(ctx)
	req.AgentID = or(id.AgentID, ctx.AgentName())
	req.SessionID = or(id.SessionID, ctx.SessionID())
	req.OnBehalfOf = or(id.OnBehalfOf, ctx.UserID())
	req.Credential, _ = agenttrust.CredentialFrom(ctx)
	if cfg.resource != nil {
		req.Resource = cfg.resource(name, args)
	}
	if cfg.attributes != nil {
		req.Attributes = cfg.attributes(name, args)
	}
	return req
}

func denied(reason string) map[string]any {
	e := &agenttrust.DeniedError{Decision: agenttrust.Decision{Reason: or(reason, "no decision")}}
	return map[string]any{"error": e.Error()}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
