package agenttrust

import (
	"context"
	"time"

	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/observe"
)

// observeCheck tells the observer what a check decided: a copy of each
// value, never a reference to the check's pooled state. The agent and
// tool are the caller's text when the check was refused for them, so
// they reach the observer (spans any reader of the traces sees) as the
// audit record keeps them: clipped, valid UTF-8, without NUL. A valid
// name passes as it is, without allocating.
func (c *Client) observeCheck(ctx context.Context, req *Request, start time.Time, d *Decision, err error) {
	end, _ := c.now() // a clock that fails has failed the check already
	c.obs.Check(ctx, observe.Check{
		Tenant: c.tenant, Agent: clip(d.AgentID), Tool: clip(req.Tool),
		Effect: d.Effect.String(), Rule: d.Rule, Reason: d.Reason, Code: errs.Code(err),
		DecisionID: d.ID, Start: start, Duration: end.Sub(start),
	})
	if err == nil && d.Reason == reasonRateLimited {
		c.obs.Event(ctx, observe.Event{Kind: observe.RateLimited, Tenant: c.tenant, Agent: d.AgentID, Tool: req.Tool})
	}
}

// event tells the observer, if there is one, of e in this client's tenant.
func (c *Client) event(ctx context.Context, e observe.Event) {
	if c.obs != nil {
		e.Tenant = c.tenant
		c.obs.Event(ctx, e)
	}
}
