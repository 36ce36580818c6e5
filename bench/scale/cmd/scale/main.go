// Command scale prints agenttrust's Check latency as keys, policy rules,
// revocations and delegation depth grow, and plots the curves; see
// package github.com/agenttrust/agenttrust/bench/scale.
//
//	cd bench && go run ./scale/cmd/scale -plots /tmp/scale
//	cd bench && go run ./scale/cmd/scale -dims revocations -notify-max 10000000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/agenttrust/agenttrust/bench/scale"
)

func main() {
	var o scale.Options
	dims := flag.String("dims", "", "comma-separated dimensions: keys, policies, revocations, depth (default all)")
	stores := flag.String("stores", "", "comma-separated stores: memory, sqlite, postgres (default all; postgres needs "+scale.PostgresEnv+")")
	flag.IntVar(&o.Max, "max", 1_000_000, "largest size, a power of ten")
	flag.IntVar(&o.NotifyMax, "notify-max", 0, "carry the notify-mode revocation curves alone on to this size")
	flag.StringVar(&o.PlotDir, "plots", ".", "directory for scale-<dimension>.png; empty for none")
	flag.StringVar(&o.TempDir, "tmp", "", "directory for the SQLite databases (default the system's)")
	flag.DurationVar(&o.LoadBudget, "load-budget", 0, "stop a curve whose next load would take longer (default 2m)")
	flag.BoolVar(&o.Quick, "quick", false, "sizes up to 1,000 and short timings")
	flag.Parse()
	o.Dimensions, o.Stores = list(*dims), list(*stores)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := scale.Run(ctx, os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
