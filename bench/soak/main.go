// Soak drives an agenttrust server with mixed traffic from many
// goroutines for a while, then checks what must hold however long it
// runs:
//
//   - no credential is allowed once its revocation has returned;
//   - every answered decision is in the audit trail exactly once, every
//     operator action (revocation, approval, key, policy) once with the
//     name of who did it, and the trail holds nothing else;
//   - every audit chain verifies;
//   - the heap and the number of goroutines stay flat.
//
// The server runs in this process over loopback HTTP on a SQLite store,
// so what grows with traffic (audit records, revocations, approvals) is
// on disk and the heap measures the server itself. Each worker is one
// agent with its own key: it checks with the key, with tokens exchanged
// from it and with tokens delegated from those, revokes its tokens and
// delegations and then checks with them again, and asks for approvals
// that an approver grants and the worker's retry consumes.
//
//	go run ./bench/soak -duration 10m
//
// It exits 1 and says which promise broke when one does.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", time.Minute, "how long to drive traffic")
	flag.IntVar(&cfg.workers, "workers", 16, "concurrent agents")
	flag.Uint64Var(&cfg.seed, "seed", uint64(time.Now().UnixNano()), "seed of the traffic mix")
	flag.Parse()
	if err := run(context.Background(), cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type config struct {
	duration time.Duration
	workers  int
	seed     uint64
	dir      string // for the SQLite file; a temporary directory when empty
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	if cfg.duration <= 0 || cfg.workers <= 0 {
		return fmt.Errorf("duration and workers must be positive")
	}
	h, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	defer h.close()
	fmt.Fprintf(out, "soak: %d workers for %s, seed %d\n", cfg.workers, cfg.duration, cfg.seed)
	res, err := h.drive(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "soak: %d checks (%d allow, %d deny, %d needs approval), %d exchanges, %d delegations, %d revocations, %d approvals granted, %d denied\n",
		res.checks(), res.effects[effAllow], res.effects[effDeny], res.effects[effApproval],
		res.exchanges, res.delegations, res.revocations, res.approvals, res.denials)
	fmt.Fprintf(out, "soak: heap %s -> %s, goroutines %d -> %d\n",
		mib(res.warm.heap), mib(res.end.heap), res.warm.goroutines, res.end.goroutines)
	rep, err := h.audit(ctx, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "soak: audit %d records (%d of them operator actions) in %d chains, all verified\n", rep.records, rep.operations, rep.chains)
	if err := res.flat(); err != nil {
		return err
	}
	fmt.Fprintln(out, "soak: ok")
	return nil
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
