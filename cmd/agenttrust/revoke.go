package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/store"
)

func revokeCommand() *command {
	return &command{
		name:    "revoke",
		args:    "ID",
		summary: "Revoke an agent, session, key, token or hop id for good (admin)",
		help: `Revoke an id of the tenant for good: an agent, a session, an API key, a
token or a delegation hop. Every check that starts after the command
returns denies whatever carries the id. Ids share one namespace per tenant.

Before revoking, the command says what the id is: a key of the tenant, the
agent of one of its keys, an agent seen in the audit trail, or something
shaped like a token or hop id (those are not stored, so they cannot be
confirmed). An id that matches nothing known is still revoked, as it may
name a session or an agent yet to come, but a warning on stderr says so:
a mistyped id blocks nothing. So is an id the lookup failed for, with a
warning. --dry-run says what the id matches and revokes nothing.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var dryRun bool
			f.BoolVar(&dryRun, "dry-run", false, "say what the id matches, and revoke nothing")
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 1, "an id")
				if err != nil {
					return err
				}
				defer rc.Close()
				id := args[0]
				what, err := identify(ctx, rc, id)
				switch {
				case err != nil && dryRun:
					return err
				case err != nil:
					// What the id names only describes it: a lookup that
					// fails never holds the revocation up.
					fmt.Fprintf(e.stderr, "agenttrust: warning: could not tell what %q names (%s); revoking it anyway\n", id, plain(describe(err)))
					what = idMatch{kind: "unknown", note: "not identified"}
				case dryRun:
					return o.done(fmt.Sprintf("would revoke %s: %s", id, what.describe()),
						map[string]any{"id": id, "matches": what.kind, "known": what.known, "dry_run": true})
				case what.kind == "unknown":
					fmt.Fprintf(e.stderr, "agenttrust: warning: %q matches no key, agent or credential known to this tenant; revoking it anyway (it may be a session id, or a typo)\n", id)
				}
				if err := rc.Revoke(ctx, id); err != nil {
					return err
				}
				return o.done("revoked "+id+" ("+what.describe()+")",
					map[string]any{"revoked": id, "matches": what.kind, "known": what.known})
			}
		},
	}
}

// idMatch is what an id given to revoke names, as far as the server can
// tell.
type idMatch struct {
	kind  string // "key", "agent", "token", "hop" or "unknown"
	known bool   // the server knows the id (a token or hop id never is)
	note  string
}

func (m idMatch) describe() string { return m.note }

// identify finds what id names among the tenant's keys and agents. A
// token or hop id is told by its shape only: neither is stored.
func identify(ctx context.Context, rc *remote.Client, id string) (idMatch, error) {
	keys, err := rc.ListKeys(ctx)
	if err != nil {
		return idMatch{}, err
	}
	agentKeys := 0
	for _, k := range keys {
		if k.ID == id {
			note := "API key of agent " + k.AgentID
			if k.Revoked {
				note += ", already revoked"
			}
			return idMatch{kind: "key", known: true, note: note}, nil
		}
		if k.AgentID == id {
			agentKeys++
		}
	}
	if agentKeys > 0 {
		note := "agent with 1 API key"
		if agentKeys > 1 {
			note = fmt.Sprintf("agent with %d API keys", agentKeys)
		}
		return idMatch{kind: "agent", known: true, note: note}, nil
	}
	for _, p := range [...]struct{ prefix, kind string }{{"tok_", "token"}, {"hop_", "hop"}} {
		if generatedID(id, p.prefix) {
			return idMatch{kind: p.kind, note: "shaped like a " + p.kind + " id; " + p.kind + "s are not stored, so it cannot be confirmed"}, nil
		}
	}
	recs, _, err := rc.QueryAudit(ctx, store.AuditQuery{AgentID: id, Limit: 1})
	if err == nil && len(recs) > 0 {
		return idMatch{kind: "agent", known: true, note: "agent seen in the audit trail"}, nil
	}
	// The audit trail is for admins and approvers; an error here only
	// means the id stays unconfirmed.
	return idMatch{kind: "unknown", note: "matches nothing known"}, nil
}

// generatedID reports whether id has the shape of an id the library
// makes: prefix and 26 characters of lowercase base32.
func generatedID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) != 26 {
		return false
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
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
				help: `Stop an agent or session on its next check, until resumed. An id that
matches no key, agent or credential known to the tenant is suspended all
the same, as it may name a session, but a warning on stderr says so: a
mistyped id stops nothing.`,
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
						id := args[0]
						if err := rc.Suspend(ctx, id, reason); err != nil {
							return err
						}
						// As revoke does, say when the id names nothing
						// known: a mistyped kill switch stops nothing. Asked
						// after suspending, so that it never holds it up.
						fields := map[string]any{"suspended": id}
						if what, err := identify(ctx, rc, id); err == nil {
							fields["matches"], fields["known"] = what.kind, what.known
							if what.kind == "unknown" {
								fmt.Fprintf(e.stderr, "agenttrust: warning: %q matches no key, agent or credential known to this tenant; suspended it anyway (it may be a session id, or a typo)\n", id)
							}
						}
						return o.done("suspended "+id, fields)
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
