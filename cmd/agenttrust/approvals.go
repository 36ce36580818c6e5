package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

func approvalsCommand() *command {
	return &command{
		name:    "approvals",
		summary: "List, approve and deny requests held for approval (admin, approver)",
		subs: []*command{
			approvalsListCommand(),
			approvalDecideCommand("approve", "Grant a pending approval: the same request is then allowed once"),
			approvalDecideCommand("deny", "Refuse a pending approval"),
			approvalGrantsCommand(),
		},
	}
}

// approvalView is an approval as printed with --json.
type approvalView struct {
	ID             string          `json:"id"`
	Status         string          `json:"status"`
	AgentID        string          `json:"agent_id"`
	SessionID      string          `json:"session_id"`
	OnBehalfOf     string          `json:"on_behalf_of"`
	Tool           string          `json:"tool_name"`
	Resource       string          `json:"resource"`
	Attributes     json.RawMessage `json:"attributes,omitempty"`
	Rule           string          `json:"rule_id"`
	Reason         string          `json:"reason"`
	Approvers      []string        `json:"approvers"`
	CreatedAt      time.Time       `json:"created_at"`
	ExpiresAt      *time.Time      `json:"expires_at,omitempty"`
	DecidedAt      *time.Time      `json:"decided_at,omitempty"`
	DecidedBy      string          `json:"decided_by"`
	Note           string          `json:"note"`
	GrantExpiresAt *time.Time      `json:"grant_expires_at,omitempty"`
	ConsumedAt     *time.Time      `json:"consumed_at,omitempty"`
	GrantID        string          `json:"grant_id,omitempty"`
}

func newApprovalView(a agenttrust.Approval) approvalView {
	v := approvalView{
		ID: a.ID, Status: string(a.Status), AgentID: a.AgentID, SessionID: a.SessionID, OnBehalfOf: a.OnBehalfOf,
		Tool: a.Tool, Resource: a.Resource, Rule: a.Rule, Reason: a.Reason, Approvers: nonNil(a.Approvers),
		CreatedAt: a.CreatedAt.UTC(), ExpiresAt: timePtr(a.ExpiresAt), DecidedAt: timePtr(a.DecidedAt),
		DecidedBy: a.DecidedBy, Note: a.Note, GrantExpiresAt: timePtr(a.GrantExpiresAt), ConsumedAt: timePtr(a.ConsumedAt),
	}
	if json.Valid(a.Attributes) {
		v.Attributes = a.Attributes
	}
	return v
}

func approvalsListCommand() *command {
	return &command{
		name:    "list",
		summary: "List approvals, oldest first",
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var status, agent string
			var limit int
			f.StringVar(&status, "status", "", "only approvals in this `STATE`: pending, approved, denied or consumed")
			f.StringVar(&agent, "agent", "", "only the approvals of this agent `ID`")
			f.IntVar(&limit, "limit", 100, "at most `N` approvals (1-1000)")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				switch agenttrust.ApprovalStatus(status) {
				case "", agenttrust.ApprovalPending, agenttrust.ApprovalApproved, agenttrust.ApprovalDenied, agenttrust.ApprovalConsumed:
				default:
					return usagef("--status: want pending, approved, denied or consumed")
				}
				if limit < 1 || limit > 1000 {
					return usagef("--limit must be 1-1000")
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				as, err := rc.Approvals(ctx, agenttrust.ApprovalFilter{AgentID: agent, Status: agenttrust.ApprovalStatus(status), Limit: limit})
				if err != nil {
					return err
				}
				if o.json {
					views := make([]approvalView, len(as))
					for i, a := range as {
						views[i] = newApprovalView(a)
					}
					return o.printJSON(views)
				}
				// Every field a grant binds (besides the tenant and the rule's
				// reason and approvers, which the policy names).
				t := o.table("ID", "STATUS", "AGENT", "ON BEHALF OF", "SESSION", "TOOL", "RESOURCE", "ATTRIBUTES", "RULE", "CREATED", "EXPIRES")
				for _, a := range as {
					t.row(a.ID, string(a.Status), a.AgentID, a.OnBehalfOf, a.SessionID, a.Tool, a.Resource, string(a.Attributes), a.Rule, fmtTime(a.CreatedAt), fmtTime(a.ExpiresAt))
				}
				return t.flush()
			}
		},
	}
}

func approvalDecideCommand(verb, summary string) *command {
	return &command{
		name:    verb,
		args:    "APPROVAL_ID",
		summary: summary,
		help: summary + `. The decider is the principal of --key, which must
hold the approver or admin role and may not be the agent that asked.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var note string
			f.StringVar(&note, "note", "", "a `NOTE` kept with the decision")
			var uses int
			var validFor time.Duration
			var resources string
			if verb == "approve" {
				f.IntVar(&uses, "remember", 0, "also allow `N` later requests like this one without asking (the rule must allow it)")
				f.DurationVar(&validFor, "remember-for", time.Hour, "how long a --remember grant lasts")
				f.StringVar(&resources, "remember-resources", "", "resource `GLOBS` (comma-separated) a --remember grant covers; default only this request's resource")
			}
			return func(ctx context.Context, args []string) error {
				if uses < 0 {
					return usagef("--remember must not be negative")
				}
				rc, err := c.open(e, args, 1, "an approval id (apr_...)")
				if err != nil {
					return err
				}
				defer rc.Close()
				decide := rc.Approve
				if verb == "deny" {
					decide = rc.DenyApproval
				}
				var grant string
				if uses > 0 {
					r := store.Remember{Uses: uses, For: validFor}
					if resources != "" {
						r.Resources = strings.Split(resources, ",")
					}
					decide = func(ctx context.Context, id, note string) (agenttrust.Approval, error) {
						a, g, err := rc.ApproveAndRemember(ctx, id, note, r)
						grant = g
						return a, err
					}
				}
				a, err := decide(ctx, args[0], note)
				if err != nil {
					return err
				}
				if o.json {
					v := newApprovalView(a)
					v.GrantID = grant
					return o.printJSON(v)
				}
				if grant != "" {
					defer fmt.Fprintf(o.w, "remembered as grant %s: %d more like it within %s\n", grant, uses, validFor)
				}
				t := o.table()
				t.row("ID", a.ID)
				t.row("STATUS", string(a.Status))
				t.row("AGENT", a.AgentID)
				t.row("TOOL", a.Tool)
				t.row("DECIDED BY", a.DecidedBy)
				if !a.GrantExpiresAt.IsZero() {
					t.row("GRANT EXPIRES", fmtTime(a.GrantExpiresAt))
				}
				return t.flush()
			}
		},
	}
}

func approvalGrantsCommand() *command {
	return &command{
		name:    "grants",
		summary: "List the live remembered approvals (grants); revoke one with \"agenttrust revoke GRANT_ID\"",
		help: `List the remembered approvals with uses left that have not expired,
oldest first: "approvals approve --remember N" makes them.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var agent string
			f.StringVar(&agent, "agent", "", "only the grants of this `AGENT`")
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 0, "")
				if err != nil {
					return err
				}
				defer rc.Close()
				gs, err := rc.Grants(ctx, agent)
				if err != nil {
					return err
				}
				if o.json {
					type grantView struct {
						ID         string    `json:"id"`
						ApprovalID string    `json:"approval_id"`
						AgentID    string    `json:"agent_id"`
						OnBehalfOf string    `json:"on_behalf_of"`
						Tool       string    `json:"tool_name"`
						Rule       string    `json:"rule_id"`
						Resource   string    `json:"resource"`
						Resources  []string  `json:"resources"`
						UsesLeft   int       `json:"uses_left"`
						ExpiresAt  time.Time `json:"expires_at"`
						CreatedBy  string    `json:"created_by"`
						CreatedAt  time.Time `json:"created_at"`
					}
					out := make([]grantView, 0, len(gs))
					for _, g := range gs {
						out = append(out, grantView{g.ID, g.ApprovalID, g.AgentID, g.OnBehalfOf, g.Tool, g.Rule, g.Resource,
							append([]string{}, g.Resources...), g.UsesLeft, g.ExpiresAt.UTC(), g.CreatedBy, g.CreatedAt.UTC()})
					}
					return o.printJSON(map[string]any{"grants": out})
				}
				t := o.table()
				t.row("ID", "AGENT", "TOOL", "RULE", "RESOURCES", "USES LEFT", "EXPIRES", "BY")
				for _, g := range gs {
					res := strings.Join(g.Resources, ",")
					if res == "" {
						res = g.Resource
					}
					t.row(g.ID, g.AgentID, g.Tool, g.Rule, res, fmt.Sprint(g.UsesLeft), fmtTime(g.ExpiresAt), g.CreatedBy)
				}
				return t.flush()
			}
		},
	}
}
