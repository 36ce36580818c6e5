package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
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
	got := map[policyKey]result{}

	// Each size is loaded, timed and released before the next: the peers
	// allocate on every decision, so a large heap held for another size
	// would make their small cases pay for collecting it (cedar-go's ten
	// policies measured 1.3 µs alone and 2.4 µs beside the 100,000-policy
	// engines). Within a size, every case of every engine is timed in
	// each round, so that load on the machine that comes and goes weighs
	// on the engines alike.
	var ballast [][]byte
	if o.heapMiB > 0 {
		ballast = liveHeap(o.heapMiB)
		fmt.Fprintf(w, "with %d MiB of live heap held beside the engines (-heap): the bars are not judged\n", o.heapMiB)
	}
	var loads []string
	for _, n := range o.sizes {
		setup, err := measureSize(ctx, n, o, got, rep)
		if err != nil {
			return err
		}
		loads = append(loads, fmt.Sprintf("%d policies %.1fs", n, setup.Seconds()))
		runtime.GC() // the engines' memory, before the next size
	}
	runtime.KeepAlive(ballast)
	fmt.Fprintf(w, "%9s %-6s %10s %7s %10s %7s %7s %10s %7s %7s\n",
		"policies", "case", "agenttrust", "allocs", "cedar-go", "allocs", "x", "OPA", "allocs", "x")
	for _, n := range o.sizes {
		for _, c := range policyCases {
			at, cg, opa := got[policyKey{n, "agenttrust", c.allow}], got[policyKey{n, "cedar-go", c.allow}], got[policyKey{n, "OPA", c.allow}]
			fmt.Fprintf(w, "%9d %-6s %10s %7d %10s %7d %7s %10s %7d %7s\n", n, c.name,
				ns(at), at.AllocsPerOp,
				ns(cg), cg.AllocsPerOp, times(ratio(cg, at)),
				ns(opa), opa.AllocsPerOp, times(ratio(opa, at)))
		}
	}
	fmt.Fprintf(w, "setup of all three engines: %s\n\n", strings.Join(loads, ", "))
	if o.heapMiB > 0 {
		return nil
	}

	// The bars of issue 16, on what this run measured.
	small, large := o.sizes[0], o.sizes[len(o.sizes)-1]
	for _, allow := range []bool{true, false} {
		c := "allow"
		if !allow {
			c = "deny"
		}
		at, ok := got[policyKey{small, "agenttrust", allow}]
		if !ok || small != 10 {
			continue
		}
		for _, peer := range []struct {
			name string
			want float64
		}{{"cedar-go", 5}, {"OPA", 25}} {
			x := ratio(got[policyKey{small, peer.name, allow}], at)
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
			x := got[policyKey{large, "agenttrust", allow}].NsPerOp / at.NsPerOp
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

// policyKey names one measurement of the policy section.
type policyKey struct {
	size   int
	engine string
	allow  bool
}

// measureSize loads the three engines with n policies, times every case
// of every engine in o.count rounds taken in turns, keeps each case's
// median in got and rep, and releases the engines. It returns how long
// loading them took.
func measureSize(ctx context.Context, n int, o options, got map[policyKey]result, rep *report) (time.Duration, error) {
	start := time.Now()
	names, es, closeAll, err := engines(n)
	if err != nil {
		return 0, err
	}
	setup := time.Since(start)
	defer closeAll()
	type slot struct {
		policyKey
		name   string
		decide func() (bool, error)
	}
	var slots []slot
	for _, c := range policyCases {
		for i, e := range es {
			decide, err := e.prepare(c.req)
			if err != nil {
				return 0, err
			}
			slots = append(slots, slot{policyKey{n, names[i], c.allow}, fmt.Sprintf("policy/%d/%s/%s", n, c.name, names[i]), decide})
		}
	}
	runs := make([][]result, len(slots))
	for range o.count {
		for i, s := range slots {
			r, err := measure(s.name, s.decide, s.allow)
			if err != nil {
				return 0, err
			}
			runs[i] = append(runs[i], r)
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
	}
	for i, s := range slots {
		r := median(runs[i])
		got[s.policyKey] = r
		rep.Results = append(rep.Results, r)
	}
	return setup, nil
}

// liveHeap returns mib MiB of small objects that hold pointers, for the
// garbage collector to mark on every cycle, as a service's own data would.
func liveHeap(mib int) [][]byte {
	const chunk = 1 << 10
	h := make([][]byte, mib<<20/chunk)
	for i := range h {
		h[i] = make([]byte, chunk)
	}
	return h
}
