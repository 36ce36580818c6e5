package main

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/agenttrust/agenttrust"
)

// shadowReport is what "policy shadow" prints: the disagreements of the
// shadow policy recorded in the audit trail.
type shadowReport struct {
	// Records is how many records were read; Disagreements how many of
	// them the shadow policy decided otherwise.
	Records       int64 `json:"records"`
	Disagreements int64 `json:"disagreements"`
	// Changes counts them by live and shadow outcome, most first.
	Changes []shadowChange `json:"changes"`
	// Latest are the newest disagreements, oldest first.
	Latest []shadowRecord `json:"latest"`
}

type shadowChange struct {
	Effect       string `json:"effect"`
	Rule         string `json:"rule,omitempty"`
	ShadowEffect string `json:"shadow_effect"`
	ShadowRule   string `json:"shadow_rule,omitempty"`
	Agents       int    `json:"agents"`
	Count        int64  `json:"count"`
}

type shadowRecord struct {
	Time         time.Time `json:"time"`
	ID           string    `json:"id"`
	AgentID      string    `json:"agent_id"`
	Tool         string    `json:"tool"`
	Resource     string    `json:"resource,omitempty"`
	Effect       string    `json:"effect"`
	Rule         string    `json:"rule,omitempty"`
	ShadowEffect string    `json:"shadow_effect"`
	ShadowRule   string    `json:"shadow_rule,omitempty"`
}

// maxShadowAgents bounds the agents counted per change, so a trail of
// many agents cannot exhaust memory.
const maxShadowAgents = 100_000

func policyShadowCommand() *command {
	return &command{
		name:    "shadow",
		summary: "Show where the shadow policy disagreed with the live one (admin, approver)",
		help: `Read the tenant's audit records since --since and show the checks the
shadow policy (serve --shadow-policy) decided otherwise than the live
policy: counts by live and shadow outcome (effect and rule), with the
agents concerned, and the latest disagreements. Nothing was enforced: the
live policy decided every check.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			af := auditFilterFlags(f)
			var since, until string
			var n int
			f.StringVar(&since, "since", "1h", "read records at or after this `TIME` (RFC 3339, or a duration ago such as 1h or 7d)")
			f.StringVar(&until, "until", "", "read records before this `TIME` (RFC 3339, or a duration ago)")
			f.IntVar(&n, "n", 20, "list the latest `N` disagreements")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				if n < 0 {
					return usagef("-n must not be negative")
				}
				q, err := af.query()
				if err != nil {
					return err
				}
				if err := setWindow(&q, since, until, time.Now()); err != nil {
					return err
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				rep, err := collectShadow(remoteRecords(ctx, rc, q), n)
				if err != nil {
					return err
				}
				if o.json {
					return o.printJSON(rep)
				}
				return printShadow(o, rep)
			}
		},
	}
}

// collectShadow reads records once and keeps the counts and the latest
// n disagreements.
func collectShadow(recs iter.Seq2[agenttrust.AuditRecord, error], n int) (*shadowReport, error) {
	type key struct{ effect, rule, shadowEffect, shadowRule string }
	counts := map[key]int64{}
	agents := map[key]map[string]bool{}
	rep := &shadowReport{Changes: []shadowChange{}, Latest: []shadowRecord{}}
	var latest []agenttrust.AuditRecord
	for r, err := range recs {
		if err != nil {
			return nil, err
		}
		rep.Records++
		if r.ShadowEffect == "" {
			continue
		}
		rep.Disagreements++
		k := key{r.Effect.String(), r.Rule, r.ShadowEffect, r.ShadowRule}
		counts[k]++
		if agents[k] == nil {
			agents[k] = map[string]bool{}
		}
		if len(agents[k]) < maxShadowAgents {
			agents[k][r.AgentID] = true
		}
		if n > 0 {
			r.Attributes, r.HopIDs = nil, nil
			latest = append(latest, r)
			if len(latest) > 2*n+1000 {
				latest = newest(latest, n)
			}
		}
	}
	for k, v := range counts {
		rep.Changes = append(rep.Changes, shadowChange{Effect: k.effect, Rule: k.rule, ShadowEffect: k.shadowEffect, ShadowRule: k.shadowRule, Agents: len(agents[k]), Count: v})
	}
	slices.SortFunc(rep.Changes, func(a, b shadowChange) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Effect+"\x00"+a.Rule+"\x00"+a.ShadowEffect+"\x00"+a.ShadowRule, b.Effect+"\x00"+b.Rule+"\x00"+b.ShadowEffect+"\x00"+b.ShadowRule)
	})
	for _, r := range newest(latest, n) {
		rep.Latest = append(rep.Latest, shadowRecord{Time: r.Time.UTC(), ID: r.ID.String(), AgentID: r.AgentID, Tool: r.Tool, Resource: r.Resource,
			Effect: r.Effect.String(), Rule: r.Rule, ShadowEffect: r.ShadowEffect, ShadowRule: r.ShadowRule})
	}
	return rep, nil
}

// newest returns the n latest of recs by time, oldest first.
func newest(recs []agenttrust.AuditRecord, n int) []agenttrust.AuditRecord {
	slices.SortStableFunc(recs, func(a, b agenttrust.AuditRecord) int { return a.Time.Compare(b.Time) })
	if len(recs) > n {
		recs = append(recs[:0], recs[len(recs)-n:]...)
	}
	return recs
}

func printShadow(o *out, rep *shadowReport) error {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	fmt.Fprintf(o.w, "%d of %d records: the shadow policy disagreed (not enforced)\n", rep.Disagreements, rep.Records)
	if len(rep.Changes) == 0 {
		return nil
	}
	fmt.Fprintln(o.w)
	t := o.table("LIVE", "LIVE RULE", "SHADOW", "SHADOW RULE", "AGENTS", "RECORDS")
	for _, c := range rep.Changes {
		t.row(c.Effect, orDefault(c.Rule), c.ShadowEffect, shadowRuleCell(c.ShadowEffect, c.ShadowRule), strconv.Itoa(c.Agents), n(c.Count))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(rep.Latest) == 0 {
		return nil
	}
	fmt.Fprintln(o.w, "\nlatest:")
	t = o.table("TIME", "DECISION", "AGENT", "TOOL", "RESOURCE", "LIVE", "SHADOW")
	for _, r := range rep.Latest {
		t.row(fmtTime(r.Time), r.ID, r.AgentID, r.Tool, r.Resource, r.Effect+" ("+orDefault(r.Rule)+")",
			r.ShadowEffect+" ("+shadowRuleCell(r.ShadowEffect, r.ShadowRule)+")")
	}
	return t.flush()
}

func shadowRuleCell(effect, rule string) string {
	if effect == "error" {
		return "failed"
	}
	return orDefault(rule)
}
