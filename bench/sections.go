package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/agenttrust/agenttrust/bench/remote"
	"github.com/agenttrust/agenttrust/bench/scale"
)

// runRemote measures agenttrust serve (SQLite, its defaults) beside a bare
// net/http JSON echo on loopback, 16 keep-alive callers, and records the
// issue's three bars for it.
func runRemote(ctx context.Context, w io.Writer, o options, rep *report) error {
	opts := remote.Options{Rounds: o.count}
	if o.quick {
		opts.Duration, opts.Warmup = time.Second, 200*time.Millisecond
	}
	res, err := remote.Run(ctx, w, opts)
	rep.Remote = res
	if err != nil {
		return err
	}
	if x := res.Ratio("serve-async"); x > 0 {
		rep.Bars = append(rep.Bars, bar{
			Name: "serve (async audit) vs a bare net/http echo, 16 callers",
			Want: "<= 1.5x the echo's cost", Got: fmt.Sprintf("%.2fx", x), Value: x, Pass: x <= 1.5,
		})
	}
	a, okA := res.Get("serve-async")
	d, okD := res.Get("serve-durable")
	if okA && okD && a.PerSec > 0 {
		x := d.PerSec / a.PerSec
		rep.Bars = append(rep.Bars, bar{
			Name: "serve durable vs async audit throughput",
			Want: ">= 0.5", Got: fmt.Sprintf("%.2f", x), Value: x, Pass: x >= 0.5,
		})
	}
	if okA {
		rep.Bars = append(rep.Bars, bar{
			Name: "serve (async audit) checks/s, 16 callers",
			Want: ">= 20000/s", Got: fmt.Sprintf("%.0f/s", a.PerSec), Value: a.PerSec, Pass: a.PerSec >= 20000,
			Note: "the callers share the machine with the server",
		})
	}
	return nil
}

// runScale draws Check's latency as keys, policies, revocations and
// delegation depth grow, on every store it can reach, and writes the PNG
// plots to o.plots.
func runScale(ctx context.Context, w io.Writer, o options, _ *report) error {
	return scale.Run(ctx, w, scale.Options{Max: o.scaleMax, PlotDir: o.plots, Quick: o.quick})
}
