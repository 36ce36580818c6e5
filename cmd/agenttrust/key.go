package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
)

func keyCommand() *command {
	return &command{
		name:    "key",
		summary: "Create, list and revoke API keys (admin)",
		subs:    []*command{keyCreateCommand(), keyListCommand(), keyRevokeCommand()},
	}
}

// keyView is a key as printed with --json.
type keyView struct {
	ID         string     `json:"id"`
	Tenant     string     `json:"tenant"`
	AgentID    string     `json:"agent_id"`
	Name       string     `json:"name"`
	Roles      []string   `json:"roles"`
	AllowedIPs []string   `json:"allowed_ips"`
	Caveats    []string   `json:"caveats"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Revoked    bool       `json:"revoked"`
}

func newKeyView(k agenttrust.Key, revoked bool) keyView {
	return keyView{
		ID: k.ID, Tenant: k.Tenant, AgentID: k.AgentID, Name: k.Name,
		Roles: nonNil(k.Roles), AllowedIPs: nonNil(k.AllowedIPs), Caveats: nonNil(k.Caveats),
		CreatedAt: k.CreatedAt.UTC(), ExpiresAt: timePtr(k.ExpiresAt), Revoked: revoked,
	}
}

func keyCreateCommand() *command {
	return &command{
		name:    "create",
		summary: "Create an API key for an agent; its secret is printed once",
		help: `Create an API key for an agent of the tenant of --key. The secret is printed
this once: the server keeps only its hash.

Roles: agent (check its own actions, exchange tokens), approver (decide
approvals, read audit and policy), admin (everything in the tenant).`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var spec agenttrust.KeySpec
			var roles, ips, caveats stringList
			var expires string
			f.StringVar(&spec.AgentID, "agent", "", "`ID` of the agent the key belongs to (required)")
			f.StringVar(&spec.Name, "name", "", "a `LABEL` for people")
			f.Var(&roles, "role", "`ROLE` of the key: agent, approver or admin; repeat for several (default agent)")
			f.StringVar(&expires, "expires", "", "end of the key's life: a `TIME` (RFC 3339) or a duration from now (90m, 720h, 30d); default never")
			f.Var(&ips, "allow-ip", "`CIDR` or address the key may be used from; repeat for several (default anywhere)")
			f.Var(&caveats, "caveat", "`CONDITION` every use of the key must satisfy, such as \"tool in payments.*\"; repeat for several")
			budgets := budgetFlag(f, "the key's, which all its tokens spend")
			f.require("agent")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				if f.isSet("expires") && strings.TrimSpace(expires) == "" {
					// Taken as no --expires, an unset variable in a script
					// would make a key that never expires.
					return usagef("--expires is empty: give a time or a duration (leave the flag out for a key that never expires)")
				}
				exp, err := parseExpiry(expires, time.Now())
				if err != nil {
					return err
				}
				spec.Roles, spec.AllowedIPs, spec.Caveats, spec.ExpiresAt = roles, ips, withBudgets(caveats, *budgets), exp
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				secret, key, err := rc.CreateKey(ctx, spec)
				if err != nil {
					return err
				}
				if o.json {
					return o.printJSON(struct {
						Secret string  `json:"secret"`
						Key    keyView `json:"key"`
					}{secret, newKeyView(key, false)})
				}
				t := o.table()
				t.row("ID", key.ID)
				t.row("AGENT", key.AgentID)
				t.row("NAME", key.Name)
				t.row("ROLES", list(key.Roles))
				t.row("EXPIRES", fmtTime(key.ExpiresAt))
				t.row("SECRET", secret)
				if err := t.flush(); err != nil {
					return err
				}
				fmt.Fprintln(e.stderr, "The secret is shown only this once: store it now.")
				return nil
			}
		},
	}
}

func keyListCommand() *command {
	return &command{
		name:    "list",
		summary: "List the tenant's keys, never their secrets",
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 0, "")
				if err != nil {
					return err
				}
				defer rc.Close()
				keys, err := rc.ListKeys(ctx)
				if err != nil {
					return err
				}
				if o.json {
					views := make([]keyView, len(keys))
					for i, k := range keys {
						views[i] = newKeyView(k.Key, k.Revoked)
					}
					return o.printJSON(views)
				}
				now := time.Now()
				t := o.table("ID", "AGENT", "NAME", "ROLES", "CREATED", "EXPIRES", "STATUS")
				for _, k := range keys {
					status := "active"
					switch {
					case k.Revoked:
						status = "revoked"
					case !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now):
						status = "expired"
					}
					t.row(k.ID, k.AgentID, k.Name, list(k.Roles), fmtTime(k.CreatedAt), fmtTime(k.ExpiresAt), status)
				}
				return t.flush()
			}
		},
	}
}

func keyRevokeCommand() *command {
	return &command{
		name:    "revoke",
		args:    "KEY_ID",
		summary: "Revoke an API key and every token derived from it",
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 1, "a key id (key_...)")
				if err != nil {
					return err
				}
				defer rc.Close()
				if err := rc.RevokeKey(ctx, args[0]); err != nil {
					return err
				}
				return o.done("revoked key "+args[0], map[string]any{"revoked": args[0]})
			}
		},
	}
}

// parseExpiry reads an absolute RFC 3339 time or a positive duration from
// now ("90m", "720h", "30d"); "" is the zero time (never).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if !t.After(now) {
			return time.Time{}, usagef("--expires %s is in the past", s)
		}
		return t, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return time.Time{}, usagef("--expires: bad number of days %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return time.Time{}, usagef("--expires: want an RFC 3339 time or a duration such as 720h or 30d, got %q", s)
		}
	}
	if d <= 0 {
		return time.Time{}, usagef("--expires must be in the future")
	}
	return now.Add(d), nil
}
