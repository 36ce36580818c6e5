package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/advise"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store"
)

// adviseOutput is what "policy advise --json" prints: the advice, and
// the replay of the trail against the proposal that checks it.
type adviseOutput struct {
	*advise.Report
	Check *replay.Report `json:"check"`
}

func policyAdviseCommand() *command {
	return &command{
		name:    "advise",
		summary: "Find grants the agents do not use, and propose a narrower policy (admin, approver)",
		help: `Read the tenant's audit records since --since against its stored policy
(or --policy FILE) and print: how much each rule decided and when last;
the grants (allow and needs_approval rules) that decided nothing and the
rules that never matched; the tools each agent may call but never did;
and a narrower policy, as a diff, that allows nothing the live policy
denies and every call the trail shows the live policy allowing by the
same rule: unused allow rules removed, used ones narrowed to the agents
and tools they served. The trail is then replayed
against the proposal to check that; nothing is changed on the server.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var policy, format, since string
			f.StringVar(&policy, "policy", "", "advise on this policy `FILE` instead of the stored one")
			f.StringVar(&format, "format", "", "the policy's `FORMAT`, json or yaml (default: by the file name)")
			f.StringVar(&since, "since", "30d", "read records at or after this `TIME` (RFC 3339, or a duration ago such as 30d)")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				var q store.AuditQuery
				var err error
				if q.Since, err = parseWhen("--since", since, time.Now()); err != nil {
					return err
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				var p *agenttrust.Policy
				if policy != "" {
					body, format, err := policyFile(e, policy, format)
					if err != nil {
						return err
					}
					if p, err = agenttrust.ParsePolicy(body, format); err != nil {
						return reportPolicyProblems(e, policy, err)
					}
				} else {
					doc, err := rc.Policy(ctx)
					if errors.Is(err, agenttrust.ErrNotFound) {
						return errors.New("no policy is stored: every action is denied, nothing to narrow")
					}
					if err != nil {
						return err
					}
					if p, err = agenttrust.ParsePolicy(doc.Body, doc.Format); err != nil {
						return fmt.Errorf("the stored policy: %w", err)
					}
				}
				rep, err := advise.Run(ctx, remoteRecords(ctx, rc, q), p, advise.Config{})
				if err != nil {
					return err
				}
				check, err := replay.Run(ctx, remoteRecords(ctx, rc, q), replay.Config{Policy: rep.Proposal, Examples: 3})
				if err != nil {
					return err
				}
				if o.json {
					return o.printJSON(adviseOutput{rep, check})
				}
				return printAdvice(o, rep, check)
			}
		},
	}
}

func printAdvice(o *out, rep *advise.Report, check *replay.Report) error {
	fmt.Fprintf(o.w, "%d records, %d decided by the policy, %s to %s\n\n", rep.Records, rep.Decided, fmtTime(rep.From), fmtTime(rep.To))
	t := o.table("RULE", "EFFECT", "DECIDED", "AGENTS", "TOOLS", "LAST USED")
	for _, u := range rep.Rules {
		t.row(u.ID, u.Effect, strconv.FormatInt(u.Decided, 10), strconv.Itoa(u.Agents), strconv.Itoa(u.Tools), fmtTime(u.LastUsed))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(o.w, "\ngrants never used: %s\n", orNone(rep.UnusedGrants))
	fmt.Fprintf(o.w, "rules that never matched: %s\n", orNone(rep.NeverMatched))
	if len(rep.Uncalled) > 0 {
		fmt.Fprintln(o.w, "\ntools an agent may call but never did:")
		t = o.table("AGENT", "TOOLS")
		for _, a := range rep.Uncalled {
			t.row(a.Agent, strings.Join(a.Tools, ", "))
		}
		if rep.UncalledTruncated {
			t.row("(more not examined)", "")
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if rep.Diff == "" {
		_, err := fmt.Fprintln(o.w, "\nnothing to narrow")
		return err
	}
	fmt.Fprintln(o.w, "\nproposed policy (- live, + proposed):")
	for _, l := range strings.Split(strings.TrimSuffix(rep.Diff, "\n"), "\n") {
		fmt.Fprintln(o.w, plain(l))
	}
	lost := int64(0)
	for _, c := range check.Effects {
		if c.From == "allow" {
			lost += c.Count
		}
	}
	_, err := fmt.Fprintf(o.w, "\nchecked: the %d decisions the policy made replayed against the proposal: %d allowed ones no longer allowed\n", check.Replayed, lost)
	return err
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
