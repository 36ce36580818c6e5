// Command remotebench runs the remote benchmark of package
// bench/remote and prints its table.
//
//	cd bench && go run ./remote/cmd/remotebench [-duration 5s] [-clients 16] [-rounds 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/agenttrust/agenttrust/bench/remote"
)

func main() {
	var opts remote.Options
	var targets string
	flag.DurationVar(&opts.Duration, "duration", remote.DefaultDuration, "how long each target is measured")
	flag.DurationVar(&opts.Warmup, "warmup", remote.DefaultWarmup, "load before each measurement, not counted")
	flag.IntVar(&opts.Clients, "clients", remote.DefaultClients, "parallel keep-alive callers")
	flag.IntVar(&opts.Rounds, "rounds", 1, "measure each target this many times, interleaved, and keep the median")
	flag.StringVar(&opts.Binary, "binary", "", "agenttrust executable (default: built from cmd/agenttrust)")
	flag.StringVar(&targets, "targets", "", "comma-separated targets among echo, serve-async, serve-durable (default: all)")
	flag.Parse()
	if targets != "" {
		opts.Targets = strings.Split(targets, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := remote.Run(ctx, os.Stdout, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
