package main

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store"
)

func policyReplayCommand() *command {
	return &command{
		name:    "replay",
		summary: "Tell what a proposed policy would change, replaying the audit trail (admin, approver)",
		help: `Re-evaluate the tenant's recorded decisions since --since against the
proposed policy (--policy, JSON or YAML) and print what would change: by
effect (allow -> deny, deny -> allow, -> needs_approval...), by old and new
rule, the agents affected and examples. Only what the policy decided is
replayed; records another phase decided (credential, revocation, rate
limit, consumed approval, breaker) keep their outcome and are counted
apart. A record whose new outcome depends on what the audit does not
keep (a redacted attribute, the remote address) is counted as unknown,
never as allowed. The audit is read through the server's API, page by
page. Nothing is changed on the server.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var policy, format, since, until string
			var examples int
			f.StringVar(&policy, "policy", "", "the proposed policy `FILE` (- for stdin)")
			f.StringVar(&format, "format", "", "the policy's `FORMAT`, json or yaml (default: by the file name)")
			f.StringVar(&since, "since", "24h", "replay records at or after this `TIME` (RFC 3339, or a duration ago such as 7d or 12h)")
			f.StringVar(&until, "until", "", "replay records before this `TIME` (RFC 3339, or a duration ago)")
			f.IntVar(&examples, "examples", 5, "at most `N` examples of each change")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				if policy == "" {
					return usagef("--policy: give the proposed policy file")
				}
				if examples < 0 {
					return usagef("--examples must not be negative")
				}
				body, format, err := policyFile(e, policy, format)
				if err != nil {
					return err
				}
				p, err := agenttrust.ParsePolicy(body, format)
				if err != nil {
					return reportPolicyProblems(e, policy, err)
				}
				var q store.AuditQuery
				if err := setWindow(&q, since, until, time.Now()); err != nil {
					return err
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				cfg := replay.Config{Policy: p, Examples: examples}
				if examples == 0 {
					cfg.Examples = -1
				}
				rep, err := replay.Run(ctx, remoteRecords(ctx, rc, q), cfg)
				if err != nil {
					return err
				}
				if o.json {
					return o.printJSON(rep)
				}
				return printReplay(o, rep)
			}
		},
	}
}

// remoteRecords reads the records matching q from the server, in
// windows of time. A store answers a page of a long query by sorting
// every record the query matches, so one query over a million records
// would cost a sort of them all for each of a thousand pages. A window
// is read only once its first page holds it whole: a full page halves
// the window and asks again, so every window costs one sort of at most
// a page (or is paged when even a millisecond holds more). Windows that
// hold little are widened. Within a window records come in (chain, seq)
// order. Without q.Until the last window has no end: a node whose clock
// runs ahead of this one writes records dated later than now, and they
// are read too.
func remoteRecords(ctx context.Context, rc *remote.Client, q store.AuditQuery) iter.Seq2[agenttrust.AuditRecord, error] {
	const (
		pageSize   = 1000
		firstWidth = time.Second
		minWidth   = time.Millisecond
	)
	return func(yield func(agenttrust.AuditRecord, error) bool) {
		end := q.Until
		if end.IsZero() {
			end = time.Now().Add(time.Minute) // what is written while reading, too
		}
		from, width := q.Since, firstWidth
		if from.IsZero() {
			from = time.Unix(0, 0)
		}
		for from.Before(end) {
			until := from.Add(width)
			if !until.Before(end) {
				until = end
			}
			w := q
			w.Since, w.Until, w.Limit = from, until, pageSize
			if until.Equal(end) && q.Until.IsZero() {
				w.Until = time.Time{}
			}
			recs, next, err := rc.QueryAudit(ctx, w)
			if err != nil {
				yield(agenttrust.AuditRecord{}, err)
				return
			}
			if next != nil && until.Sub(from) > minWidth {
				width = max(until.Sub(from)/4, minWidth) // too many to read in one: a narrower window
				continue
			}
			for next != nil { // a millisecond of more than a page
				more, n, err := rc.QueryAudit(ctx, *next)
				if err != nil {
					yield(agenttrust.AuditRecord{}, err)
					return
				}
				recs, next = append(recs, more...), n
			}
			for i := range recs {
				if !yield(recs[i], nil) {
					return
				}
			}
			from = until
			if len(recs) < pageSize/4 {
				width *= 2
			}
		}
	}
}

// printReplay prints a replay report as a few tables.
func printReplay(o *out, rep *replay.Report) error {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	t := o.table()
	t.row("RECORDS", "REPLAYED", "SAME", "CHANGED", "UNKNOWN", "FAILED")
	t.row(n(rep.Records), n(rep.Replayed), n(rep.Same), n(rep.Changed), n(rep.Unknown), n(rep.Failed))
	if err := t.flush(); err != nil {
		return err
	}
	if len(rep.NotReplayable) > 0 {
		fmt.Fprintln(o.w, "\nnot replayed (decided by another phase):")
		t = o.table("PHASE", "RECORDS")
		for _, ph := range slices.Sorted(maps.Keys(rep.NotReplayable)) {
			t.row(string(ph), n(rep.NotReplayable[ph]))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(rep.Effects) > 0 {
		fmt.Fprintln(o.w, "\neffects that change:")
		t = o.table("FROM", "TO", "RECORDS")
		for _, c := range rep.Effects {
			t.row(c.From, c.To, n(c.Count))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(rep.Rules) > 0 {
		fmt.Fprintln(o.w, "\nby rule (old -> new; - is the default):")
		t = o.table("FROM", "FROM RULE", "TO", "TO RULE", "RECORDS")
		for _, c := range rep.Rules {
			t.row(c.FromEffect, c.FromRule, c.ToEffect, c.ToRule, n(c.Count))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(rep.Agents) > 0 {
		fmt.Fprintln(o.w, "\nagents affected:")
		t = o.table("AGENT", "CHANGED", "UNKNOWN")
		for _, a := range rep.Agents {
			t.row(a.Agent, n(a.Changed), n(a.Unknown))
		}
		if rep.AgentsOmitted > 0 {
			t.row(fmt.Sprintf("(%d more)", rep.AgentsOmitted), "", "")
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(rep.Examples) > 0 {
		fmt.Fprintln(o.w, "\nexamples:")
		t = o.table("TIME", "DECISION", "AGENT", "TOOL", "RESOURCE", "FROM", "TO", "WHY")
		for _, x := range rep.Examples {
			from := x.FromEffect + " (" + orDefault(x.FromRule) + ")"
			to := x.ToEffect
			if x.Why == "" {
				to += " (" + orDefault(x.ToRule) + ")"
			}
			t.row(fmtTime(x.Time), x.ID.String(), x.AgentID, x.Tool, x.Resource, from, to, x.Why)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(rule string) string {
	if rule == "" {
		return "default"
	}
	return rule
}
