package agenttrust

import (
	"context"
	"log/slog"
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

// recoveringObserver is the Observer a client calls: the one given to
// WithObserver, whose panics it logs rather than lets through. An
// observer tells what the client did, it decides nothing: its panic must
// neither fail a call whose decision is recorded or whose action is
// applied, nor end the process from the audit flusher or a timer, which
// no caller could recover, losing every record still queued.
type recoveringObserver struct {
	o   observe.Observer
	log *slog.Logger
}

func (r *recoveringObserver) Check(ctx context.Context, c observe.Check) {
	defer r.recover()
	r.o.Check(ctx, c)
}

func (r *recoveringObserver) Event(ctx context.Context, e observe.Event) {
	defer r.recover()
	r.o.Event(ctx, e)
}

// recover, deferred, logs a panic of the observer.
func (r *recoveringObserver) recover() {
	if p := recover(); p != nil {
		r.log.Error("agenttrust: observer panicked", "panic", panicText(p))
	}
}
