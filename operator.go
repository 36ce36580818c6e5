package agenttrust

import (
	"context"
	"fmt"
	"time"

	"github.com/agenttrust/agenttrust/internal/actor"
)

// Operator actions in the audit trail. Every action of this client that
// changes who may do what (Approve, DenyApproval, Suspend, Resume,
// Revoke, CreateKey, SavePolicy) is recorded in the client's audit chain
// beside the decisions, through the same queue, chain and sinks: one
// record whose Tool names the action, Resource its target, Effect Allow,
// AgentID and CredentialID who acted (the agent and API key id of the
// caller the server authenticated; empty for a library caller) and
// Reason the note or reason given. Operator records are told from
// decisions by their Tool, which starts with "agenttrust." (opPrefix):
// Check refuses a request whose tool does, and records its tool behind
// "refused:", so no decision record can pass for an operator action.
//
// The record is made before the action, and the action runs only once
// the record is accepted, as a check's answer is given only once its
// record is: queued, or, in durable mode, written to every sink. When the
// audit is down (writes failing past AuditConfig.StuckAfter, the queue
// full) or the client is closed, the action is refused with an error
// matching ErrAuditUnavailable or ErrClosed, and nothing changes. When
// the action then fails, or its durable record is not written in time, a
// second record of the same Tool and Resource with Effect Deny says that
// the first did not take effect, naming its ID. So the trail never lacks
// an action that took effect, and an error always means the action was
// not applied or not fully recorded.
const (
	opPrefix       = "agenttrust."
	opApprove      = "agenttrust.approve"
	opDenyApproval = "agenttrust.deny_approval"
	opRemember     = "agenttrust.remember"
	opSuspend      = "agenttrust.suspend"
	opResume       = "agenttrust.resume"
	opRevoke       = "agenttrust.revoke"
	opCreateKey    = "agenttrust.create_key"
	opSavePolicy   = "agenttrust.save_policy"
)

// maxOpReason bounds the reason of an operator record: an approval's
// note may be this long.
const maxOpReason = 4096

// operation is one operator action as its audit record holds it.
type operation struct {
	tool, resource, reason string
	approval               string // the approval decided, if any
	kvs                    []attrKV
}

// audited runs act, an operator action, under its audit record (see the
// comment on the op constants above): it refuses the action when the
// record cannot be made, and notes in the trail an action that failed.
func (c *Client) audited(ctx context.Context, op operation, act func() error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if !c.audit.healthy() {
		return fmt.Errorf("%w: audit writes failing for more than %s: %s not performed", ErrAuditUnavailable, c.audit.stuckAfter, op.tool)
	}
	who := actor.From(ctx)
	now := c.clock.Now()
	id := c.ids.next(now)
	// Under way until its notes are queued: a closing drain waits for it.
	c.audit.inflight.Add(1)
	defer c.audit.inflight.Add(-1)
	ticket, err := c.recordOp(id, now, who, &op, Allow, storable(op.reason, maxOpReason), false)
	if err != nil {
		return fmt.Errorf("%s not performed: %w", op.tool, err)
	}
	if c.audit.durable {
		if err := c.audit.await(ctx, ticket); err != nil {
			c.recordOp(c.ids.next(now), now, who, &op, Deny, "not performed: record "+id.String()+" was not durable in time", true)
			return fmt.Errorf("%s not performed: %w", op.tool, err)
		}
	}
	if err := act(); err != nil {
		now := c.clock.Now()
		c.recordOp(c.ids.next(now), now, who, &op, Deny, storable("not performed: record "+id.String()+": "+err.Error(), maxOpReason), true)
		return err
	}
	return nil
}

// recordOp queues the audit record of an operator action and returns its
// ticket (see auditor.end). A note says an action recorded before was not
// performed; one that cannot be queued is logged.
func (c *Client) recordOp(id DecisionID, now time.Time, who actor.Actor, op *operation, effect Effect, reason string, note bool) (uint64, error) {
	agent, cred := clip(who.AgentID), clip(who.KeyID)
	resource, approval := clip(op.resource), clip(op.approval)
	p, err := c.audit.begin(note)
	if err != nil {
		if note {
			c.log.Error("agenttrust: an action not performed could not be noted in the audit trail", "tool", op.tool, "reason", reason, "err", err)
		}
		return 0, err
	}
	*p = pending{
		id:       id,
		unixNano: now.UnixMicro() * 1000, // records keep microseconds
		agent:    agent,
		cred:     cred,
		tool:     op.tool,
		resource: resource,
		approval: approval,
		effect:   effect,
		reason:   reason,
	}
	return c.audit.end(p, op.kvs), nil
}
