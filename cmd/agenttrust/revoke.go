package main

import (
	"context"
	"time"
)

func revokeCommand() *command {
	return &command{
		name:    "revoke",
		args:    "ID",
		summary: "Revoke an agent, session, key, token or hop id for good (admin)",
		help: `Revoke an id of the tenant for good: an agent, a session, an API key, a
token or a delegation hop. Every check that starts after the command
returns denies whatever carries the id. Ids share one namespace per tenant.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 1, "an id")
				if err != nil {
					return err
				}
				defer rc.Close()
				if err := rc.Revoke(ctx, args[0]); err != nil {
					return err
				}
				return o.done("revoked "+args[0], map[string]any{"revoked": args[0]})
			}
		},
	}
}

// blockView is a revocation or suspension as printed with --json.
type blockView struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Reason    string     `json:"reason"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func blocksCommand() *command {
	return &command{
		name:    "blocks",
		summary: "List the tenant's revocations and suspensions (admin)",
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 0, "")
				if err != nil {
					return err
				}
				defer rc.Close()
				bs, err := rc.Blocks(ctx)
				if err != nil {
					return err
				}
				if o.json {
					views := make([]blockView, len(bs))
					for i, b := range bs {
						views[i] = blockView{ID: b.ID, Kind: b.Kind.String(), Reason: b.Reason, CreatedAt: b.CreatedAt.UTC(), ExpiresAt: timePtr(b.ExpiresAt)}
					}
					return o.printJSON(views)
				}
				t := o.table("ID", "KIND", "REASON", "CREATED", "EXPIRES")
				for _, b := range bs {
					t.row(b.ID, b.Kind.String(), b.Reason, fmtTime(b.CreatedAt), fmtTime(b.ExpiresAt))
				}
				return t.flush()
			}
		},
	}
}

func agentCommand() *command {
	return &command{
		name:    "agent",
		summary: "Suspend and resume agents or sessions: the kill switch (admin)",
		subs: []*command{
			{
				name:    "suspend",
				args:    "ID",
				summary: "Stop an agent or session on its next check, until resumed",
				setup: func(e *env, f *flags) runFunc {
					c := connFlags(f)
					o := outFlags(e, f)
					var reason string
					f.StringVar(&reason, "reason", "", "why, for the audit trail and the agent's denials")
					return func(ctx context.Context, args []string) error {
						rc, err := c.open(e, args, 1, "an agent or session id")
						if err != nil {
							return err
						}
						defer rc.Close()
						if err := rc.Suspend(ctx, args[0], reason); err != nil {
							return err
						}
						return o.done("suspended "+args[0], map[string]any{"suspended": args[0]})
					}
				},
			},
			{
				name:    "resume",
				args:    "ID",
				summary: "Lift a suspension (a revocation stays in force)",
				setup: func(e *env, f *flags) runFunc {
					c := connFlags(f)
					o := outFlags(e, f)
					return func(ctx context.Context, args []string) error {
						rc, err := c.open(e, args, 1, "an agent or session id")
						if err != nil {
							return err
						}
						defer rc.Close()
						if err := rc.Resume(ctx, args[0]); err != nil {
							return err
						}
						return o.done("resumed "+args[0], map[string]any{"resumed": args[0]})
					}
				},
			},
		},
	}
}

func whoamiCommand() *command {
	return &command{
		name:    "whoami",
		summary: "Show who the credential of --key is: tenant, agent, key and roles",
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 0, "")
				if err != nil {
					return err
				}
				defer rc.Close()
				p, err := rc.Whoami(ctx)
				if err != nil {
					return err
				}
				if o.json {
					return o.printJSON(struct {
						Tenant       string   `json:"tenant"`
						AgentID      string   `json:"agent_id"`
						KeyID        string   `json:"key_id"`
						CredentialID string   `json:"credential_id"`
						HopIDs       []string `json:"hop_ids"`
						Roles        []string `json:"roles"`
					}{p.Tenant, p.AgentID, p.KeyID, p.CredentialID, nonNil(p.HopIDs), nonNil(p.Roles)})
				}
				t := o.table()
				t.row("TENANT", p.Tenant)
				t.row("AGENT", p.AgentID)
				t.row("KEY", p.KeyID)
				t.row("CREDENTIAL", p.CredentialID)
				t.row("HOPS", list(p.HopIDs))
				t.row("ROLES", list(p.Roles))
				return t.flush()
			}
		},
	}
}
