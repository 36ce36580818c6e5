package main

import (
	"context"
	"strconv"
	"time"

	"github.com/agenttrust/agenttrust/remote"
)

// budgetFlag defines --budget, repeatable: a budget caveat without its
// leading "budget", such as "calls <= 100" or "attr.amount <= 50 USD".
func budgetFlag(f *flags, whose string) *stringList {
	var l stringList
	f.Var(&l, "budget", "a `BUDGET`, "+whose+": \"calls <= 100\", \"attr.amount <= 50 USD\", optionally ending in \"tools GLOB,...\"; repeat for several")
	return &l
}

// withBudgets returns caveats with a budget caveat for each of budgets.
func withBudgets(caveats, budgets stringList) []string {
	out := append([]string(nil), caveats...)
	for _, b := range budgets {
		out = append(out, "budget "+b)
	}
	return out
}

func tokenDelegateCommand() *command {
	return &command{
		name:    "delegate",
		args:    "TOKEN|-",
		summary: "Narrow a token on the server, which records the hop",
		help: `Narrow a token on the server: like attenuate, and the server verifies the
token and records the hop, so the hop can be listed and revoked. A
--budget is carved out of the parent's remaining budget now, and refused
when the parent has less left. "-" reads the token from stdin.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var caveats stringList
			var ttl time.Duration
			f.Var(&caveats, "caveat", "`CONDITION` to add, such as \"tool in payments.charge\"; repeat for several")
			f.DurationVar(&ttl, "ttl", 0, "shorten the new token's life to at most this `DURATION`")
			budgets := budgetFlag(f, "the new hop's, carved out of its parent's")
			return func(ctx context.Context, args []string) error {
				if f.isSet("ttl") && ttl <= 0 {
					// Zero would be read as no --ttl: the token would keep
					// its parent's whole life.
					return usagef("--ttl must be positive (leave it out to keep the parent's expiry)")
				}
				token, err := tokenArg(e, args)
				if err != nil {
					return err
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				narrowed, _, err := rc.Delegate(ctx, token, ttl, withBudgets(caveats, *budgets)...)
				if err != nil {
					return err
				}
				return printToken(o, narrowed)
			}
		},
	}
}

// budgetView is a budget as printed with --json.
type budgetView struct {
	Name      string     `json:"name"`
	Limit     int64      `json:"limit"`
	Spent     int64      `json:"spent"`
	Carved    int64      `json:"carved"`
	Remaining int64      `json:"remaining"`
	Scale     int64      `json:"scale"`
	Holder    string     `json:"holder,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Released  bool       `json:"released"`
}

func budgetCommand() *command {
	return &command{
		name:    "budget",
		args:    "ID",
		summary: "Show the budgets of a key, token or hop, and what remains (admin)",
		help: `Show the budgets a key, token or delegation hop holds: each one's limit,
what was spent through it, what is carved out for live delegations and
what remains. Amounts are shown in the budget's own terms (calls, or the
attribute's amount); --json gives integer units and their scale.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 1, "a key, token or hop id")
				if err != nil {
					return err
				}
				defer rc.Close()
				bs, err := rc.Budgets(ctx, args[0])
				if err != nil {
					return err
				}
				if o.json {
					views := make([]budgetView, len(bs))
					for i, b := range bs {
						views[i] = budgetView{Name: b.Name, Limit: b.Limit, Spent: b.Spent, Carved: b.Carved, Remaining: b.Remaining,
							Scale: b.Scale, Holder: b.Holder, ExpiresAt: timePtr(b.ExpiresAt), Released: b.Released}
					}
					return o.printJSON(views)
				}
				t := o.table("NAME", "LIMIT", "SPENT", "CARVED", "REMAINING", "FROM", "STATUS")
				for _, b := range bs {
					status := "live"
					if b.Released {
						status = "released"
					}
					t.row(b.Name, amount(b, b.Limit), amount(b, b.Spent), amount(b, b.Carved), amount(b, b.Remaining), b.Holder, status)
				}
				return t.flush()
			}
		},
	}
}

// amount writes units of b as a decimal in the budget's terms.
func amount(b remote.BudgetInfo, units int64) string {
	if b.Scale <= 1 {
		return strconv.FormatInt(units, 10)
	}
	return strconv.FormatFloat(float64(units)/float64(b.Scale), 'f', -1, 64)
}
