package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
)

func tokenCommand() *command {
	return &command{
		name:    "token",
		summary: "Exchange an API key for a token, attenuate and inspect tokens",
		subs:    []*command{tokenExchangeCommand(), tokenAttenuateCommand(), tokenDelegateCommand(), tokenInspectCommand()},
	}
}

// tokenView is a token's description as printed with --json; it never
// holds the token's signature.
type tokenView struct {
	ID        string     `json:"id"`
	KeyID     string     `json:"key_id"`
	Tenant    string     `json:"tenant"`
	AgentID   string     `json:"agent_id"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	HopIDs    []string   `json:"hop_ids"`
	Caveats   []string   `json:"caveats"`
}

func newTokenView(ti agenttrust.TokenInfo) tokenView {
	return tokenView{
		ID: ti.ID, KeyID: ti.KeyID, Tenant: ti.Tenant, AgentID: ti.AgentID,
		ExpiresAt: timePtr(ti.ExpiresAt), HopIDs: nonNil(ti.HopIDs), Caveats: nonNil(ti.Caveats),
	}
}

// printToken prints a new token: alone on its line, so that
// TOKEN=$(agenttrust token exchange) works, or with --json as
// {"token": ..., "info": ...}.
func printToken(o *out, token string) error {
	if !o.json {
		_, err := fmt.Fprintln(o.w, token)
		return err
	}
	v := struct {
		Token string     `json:"token"`
		Info  *tokenView `json:"info,omitempty"`
	}{Token: token}
	if ti, err := agenttrust.InspectTokenUnverified(token); err == nil {
		tv := newTokenView(ti)
		v.Info = &tv
	}
	return o.printJSON(v)
}

func tokenExchangeCommand() *command {
	return &command{
		name:    "exchange",
		summary: "Exchange the API key of --key for a short-lived token",
		help: `Exchange the API key of --key (AGENTTRUST_KEY) for a short-lived token,
narrowed by the caveats given, and print the token.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var caveats stringList
			var jwt bool
			var audience string
			f.Var(&caveats, "caveat", "`CONDITION` the token must satisfy at every use, such as \"attr.amount <= 50\"; repeat for several")
			f.BoolVar(&jwt, "jwt", false, "mint a JWT (needs --audience) instead of a macaroon token")
			f.StringVar(&audience, "audience", "", "the JWT's `AUDIENCE`")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				if jwt != (audience != "") {
					return usagef("--jwt and --audience go together")
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				var token string
				if jwt {
					token, err = rc.ExchangeJWT(ctx, "", audience, caveats...)
				} else {
					token, err = rc.Exchange(ctx, "", caveats...)
				}
				if err != nil {
					return err
				}
				return printToken(o, token)
			}
		},
	}
}

func tokenAttenuateCommand() *command {
	return &command{
		name:    "attenuate",
		args:    "TOKEN|-",
		summary: "Narrow a token offline with more caveats",
		help: `Narrow a token offline, with no server and no key: add a delegation hop and
the caveats given, and print the new token, which can only do less. "-"
reads the token from stdin.`,
		setup: func(e *env, f *flags) runFunc {
			o := outFlags(e, f)
			var caveats stringList
			f.Var(&caveats, "caveat", "`CONDITION` to add, such as \"tool in payments.charge\"; repeat for several")
			budgets := budgetFlag(f, "the new hop's, carved out of its parent's at its first use")
			return func(ctx context.Context, args []string) error {
				token, err := tokenArg(e, args)
				if err != nil {
					return err
				}
				narrowed, err := agenttrust.Attenuate(token, withBudgets(caveats, *budgets)...)
				if err != nil {
					return err
				}
				return printToken(o, narrowed)
			}
		},
	}
}

func tokenInspectCommand() *command {
	return &command{
		name:    "inspect",
		args:    "TOKEN|-",
		summary: "Show what a token says about itself, offline and unverified",
		help: `Show what a token (or JWT) says about itself: its id, key, tenant, agent,
expiry, delegation hops and caveats. Offline and unverified: it proves
nothing about the token (use check for that), and never prints its
signature. "-" reads the token from stdin.`,
		setup: func(e *env, f *flags) runFunc {
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				token, err := tokenArg(e, args)
				if err != nil {
					return err
				}
				ti, err := agenttrust.InspectTokenUnverified(token)
				if err != nil {
					return err
				}
				if o.json {
					return o.printJSON(newTokenView(ti))
				}
				t := o.table()
				t.row("ID", ti.ID)
				t.row("KEY", ti.KeyID)
				t.row("TENANT", ti.Tenant)
				t.row("AGENT", ti.AgentID)
				t.row("EXPIRES", fmtTime(ti.ExpiresAt))
				t.row("HOPS", list(ti.HopIDs))
				for i, cv := range ti.Caveats {
					label := " "
					if i == 0 {
						label = "CAVEATS"
					}
					t.row(label, cv)
				}
				if len(ti.Caveats) == 0 {
					t.row("CAVEATS", "")
				}
				return t.flush()
			}
		},
	}
}

// tokenArg returns the token argument, read from stdin for "-".
func tokenArg(e *env, args []string) (string, error) {
	if err := wantArgs(args, 1, "a token (or - to read it from stdin)"); err != nil {
		return "", err
	}
	if args[0] != "-" {
		return args[0], nil
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, agenttrust.MaxCredentialSize+1))
	if err != nil {
		return "", fmt.Errorf("read token from stdin: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", usagef("no token on stdin")
	}
	return token, nil
}
