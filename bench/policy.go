package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// runPolicy times one decision by agenttrust (Client.Check), cedar-go
// (Authorize) and OPA (a prepared query) on the cedar-10 scenario, then
// with synthetic policies up to each size in o.sizes, the allowed and the
// denied request each. Every engine gets its request already built in its
// own form, so none pays for building it.
func runPolicy(ctx context.Context, w io.Writer, o options, rep *report) error {
	fmt.Fprintln(w, "policy decision: the cedar-10 scenario plus synthetic policies; x = the peer's ns/op over agenttrust's")
	fmt.Fprintf(w, "%9s %-6s %10s %7s %10s %7s %7s %10s %7s %7s\n",
		"policies", "case", "agenttrust", "allocs", "cedar-go", "allocs", "x", "OPA", "allocs", "x")
	type key struct {
		size   int
		engine string
		allow  bool
	}
	got := map[key]result{}

	// Load every size first, then time every case of every size in each
	// round, so that load on the machine that comes and goes weighs on
	// the sizes alike, not only on the engines within one size.
	type slot struct {
		key
		name   string
		decide func() (bool, error)
	}
	var slots []slot
	var loads []string
	for _, n := range o.sizes {
		start := time.Now()
		names, es, closeAll, err := engines(n)
		if err != nil {
			return err
		}
		defer closeAll()
		loads = append(loads, fmt.Sprintf("%d policies %.1fs", n, time.Since(start).Seconds()))
		for _, c := range policyCases {
			for i, e := range es {
				decide, err := e.prepare(c.req)
				if err != nil {
					return err
				}
				slots = append(slots, slot{key{n, names[i], c.allow}, fmt.Sprintf("policy/%d/%s/%s", n, c.name, names[i]), decide})
			}
		}
	}
	runs := make([][]result, len(slots))
	for range o.count {
		for i, s := range slots {
			r, err := measure(s.name, s.decide, s.allow)
			if err != nil {
				return err
			}
			runs[i] = append(runs[i], r)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	for i, s := range slots {
		r := median(runs[i])
		got[s.key] = r
		rep.Results = append(rep.Results, r)
	}
	for _, n := range o.sizes {
		for _, c := range policyCases {
			at, cg, opa := got[key{n, "agenttrust", c.allow}], got[key{n, "cedar-go", c.allow}], got[key{n, "OPA", c.allow}]
			fmt.Fprintf(w, "%9d %-6s %10s %7d %10s %7d %7s %10s %7d %7s\n", n, c.name,
				ns(at), at.AllocsPerOp,
				ns(cg), cg.AllocsPerOp, times(ratio(cg, at)),
				ns(opa), opa.AllocsPerOp, times(ratio(opa, at)))
		}
	}
	fmt.Fprintf(w, "setup of all three engines: %s\n\n", strings.Join(loads, ", "))

	// The bars of issue 16, on what this run measured.
	small, large := o.sizes[0], o.sizes[len(o.sizes)-1]
	for _, allow := range []bool{true, false} {
		c := "allow"
		if !allow {
			c = "deny"
		}
		at, ok := got[key{small, "agenttrust", allow}]
		if !ok || small != 10 {
			continue
		}
		for _, peer := range []struct {
			name string
			want float64
		}{{"cedar-go", 5}, {"OPA", 25}} {
			x := ratio(got[key{small, peer.name, allow}], at)
			rep.Bars = append(rep.Bars, bar{
				Name: fmt.Sprintf("Check vs %s, 10 policies, %s", peer.name, c),
				Want: fmt.Sprintf(">= %gx faster", peer.want), Got: fmt.Sprintf("%.1fx", x), Value: x, Pass: x >= peer.want,
			})
		}
		rep.Bars = append(rep.Bars, bar{
			Name: fmt.Sprintf("Check allocations, 10 policies, %s", c),
			Want: "0 allocs/op", Got: fmt.Sprintf("%d allocs/op", at.AllocsPerOp), Value: float64(at.AllocsPerOp),
			Pass: at.AllocsPerOp == 0, Note: fmt.Sprintf("amortized: %.4f allocs/op, %d B/op", at.Allocs, at.BytesPerOp),
		})
		if large > small {
			x := got[key{large, "agenttrust", allow}].NsPerOp / at.NsPerOp
			rep.Bars = append(rep.Bars, bar{
				Name: fmt.Sprintf("Check flat from 10 to %d policies, %s", large, c),
				Want: "<= 2.0x slower", Got: fmt.Sprintf("%.2fx", x), Value: x, Pass: x <= 2,
			})
		}
	}
	return nil
}

// policyCases are the requests timed at every size.
var policyCases = []struct {
	name  string
	req   request
	allow bool
}{{"allow", allowRequest, true}, {"deny", denyRequest, false}}
