package scale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// The dimensions Run knows, in the order it runs them.
const (
	Keys        = "keys"        // API keys in the store, one agent each
	Policies    = "policies"    // rules in the policy
	Revocations = "revocations" // revoked ids in the store
	Depth       = "depth"       // delegation hops in the token presented
)

// The stores Run knows.
const (
	Memory   = "memory"
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// PostgresEnv names the variable holding the PostgreSQL URL; PostgreSQL
// curves are skipped when it is empty.
const PostgresEnv = "AGENTTRUST_TEST_POSTGRES"

// Options says what Run measures. Its zero value measures every
// dimension on every store up to 1,000,000, without plots.
type Options struct {
	// Dimensions to measure (Keys, Policies, Revocations, Depth); empty
	// means all.
	Dimensions []string
	// Max is the largest size, a power of ten from 10 (default
	// 1,000,000). Policies stop at 100,000 and Depth at the token
	// format's maximum whatever it says.
	Max int
	// NotifyMax, when above Max, carries the revocation curves of notify
	// mode alone on to it (10,000,000 in the run).
	NotifyMax int
	// Stores to use (Memory, SQLite, Postgres); empty means all, with
	// PostgreSQL only when PostgresEnv is set.
	Stores []string
	// PlotDir receives scale-<dimension>.png; empty writes no plots.
	PlotDir string
	// TempDir holds the SQLite databases; empty means os.TempDir().
	TempDir string
	// LoadBudget stops a curve whose next load would take longer than
	// this, judged from how its loads have grown so far (default 2m).
	LoadBudget time.Duration
	// Quick is for CI: sizes up to 1,000 and short timings.
	Quick bool
	// Postgres overrides PostgresEnv's URL.
	Postgres string
}

// Point is one measurement: Check took NsPerOp (the median run) or
// Fastest (the fastest run) at size N, and bringing the store to N took
// Load.
type Point struct {
	N       int
	NsPerOp float64
	Fastest float64
	Load    time.Duration
}

// Curve is one dimension on one store (Series, such as "sqlite" or
// "sqlite-notify").
type Curve struct {
	Dimension string
	Series    string
	Points    []Point
	// Note says why the curve stops early or what its setting is.
	Note string
}

// Ratio is the latency at the largest size over that at the smallest.
func (c Curve) Ratio() float64 {
	if len(c.Points) < 2 {
		return math.NaN()
	}
	return c.Points[len(c.Points)-1].NsPerOp / c.Points[0].NsPerOp
}

// FastestRatio is Ratio of the fastest runs.
func (c Curve) FastestRatio() float64 {
	if len(c.Points) < 2 {
		return math.NaN()
	}
	return c.Points[len(c.Points)-1].Fastest / c.Points[0].Fastest
}

// Flat reports whether the curve's medians stay within 2x from end to
// end.
func (c Curve) Flat() bool { return flat(c.Ratio()) }

func flat(r float64) bool { return !math.IsNaN(r) && r <= 2 }

// run is the state of one Run.
type run struct {
	opts   Options
	w      io.Writer
	t      timing
	tmp    string
	pgURL  string
	stores map[string]bool
}

// Run measures the dimensions opts names, printing each point as it
// comes, then a summary of the curves with their ratios, and writes the
// plots. A dimension that fails ends Run with its error after the
// summary of what was measured.
func Run(ctx context.Context, w io.Writer, opts Options) error {
	r, err := newRun(w, opts)
	if err != nil {
		return err
	}
	defer os.RemoveAll(r.tmp)
	dims := opts.Dimensions
	if len(dims) == 0 {
		dims = []string{Keys, Policies, Revocations, Depth}
	}
	fmt.Fprintf(w, "scale: Check latency, median of %d runs of %s; load = time to bring the store to n\n", r.t.runs, r.t.run)
	fmt.Fprintf(w, "%-12s %-16s %12s %12s %12s %12s\n", "dimension", "series", "n", "ns/op", "fastest", "load")
	var curves []Curve
	var errs []error
	for _, d := range dims {
		var cs []Curve
		var err error
		switch d {
		case Keys:
			cs, err = r.keys(ctx)
		case Policies:
			cs, err = r.policies(ctx)
		case Revocations:
			cs, err = r.revocations(ctx)
		case Depth:
			cs, err = r.depth(ctx)
		default:
			err = fmt.Errorf("unknown dimension %q (want %s, %s, %s or %s)", d, Keys, Policies, Revocations, Depth)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d, err))
		}
		curves = append(curves, cs...)
		if opts.PlotDir != "" && len(cs) > 0 {
			path, err := plotCurves(opts.PlotDir, d, cs)
			if err != nil {
				errs = append(errs, fmt.Errorf("plot %s: %w", d, err))
			} else {
				fmt.Fprintf(w, "plot: %s\n", path)
			}
		}
	}
	summary(w, curves)
	return errors.Join(errs...)
}

func newRun(w io.Writer, opts Options) (*run, error) {
	if opts.Max == 0 {
		opts.Max = 1_000_000
	}
	if opts.Quick {
		opts.Max, opts.NotifyMax = min(opts.Max, 1_000), 0
	}
	if opts.Max < 10 {
		return nil, fmt.Errorf("scale: Max %d is below 10", opts.Max)
	}
	if opts.LoadBudget == 0 {
		opts.LoadBudget = 2 * time.Minute
	}
	r := &run{opts: opts, w: w, t: timing{run: 200 * time.Millisecond, runs: 5}, stores: map[string]bool{}}
	if opts.Quick {
		r.t = timing{run: 5 * time.Millisecond, runs: 3}
	}
	stores := opts.Stores
	if len(stores) == 0 {
		stores = []string{Memory, SQLite, Postgres}
	}
	for _, s := range stores {
		switch s {
		case Memory, SQLite:
			r.stores[s] = true
		case Postgres:
			r.pgURL = opts.Postgres
			if r.pgURL == "" {
				r.pgURL = os.Getenv(PostgresEnv)
			}
			if r.pgURL == "" {
				fmt.Fprintf(w, "postgres: skipped: set %s to a database URL to measure it\n", PostgresEnv)
				continue
			}
			r.stores[s] = true
		default:
			return nil, fmt.Errorf("scale: unknown store %q (want %s, %s or %s)", s, Memory, SQLite, Postgres)
		}
	}
	tmp, err := os.MkdirTemp(opts.TempDir, "agenttrust-scale-")
	if err != nil {
		return nil, err
	}
	r.tmp = tmp
	return r, nil
}

// sizes returns 10, 100, ... up to max.
func sizes(max int) []int {
	var out []int
	for n := 10; n <= max; n *= 10 {
		out = append(out, n)
	}
	return out
}

// row prints one point as it is measured, so a long run shows progress.
func (r *run) row(dim, series string, p Point) {
	load := "-"
	if p.Load > 0 {
		load = p.Load.Round(time.Millisecond).String()
		if p.Load < time.Millisecond {
			load = p.Load.Round(time.Microsecond).String()
		}
	}
	fmt.Fprintf(r.w, "%-12s %-16s %12d %12.0f %12.0f %12s\n", dim, series, p.N, p.NsPerOp, p.Fastest, load)
}

// note prints a remark about a curve and returns it.
func (r *run) note(dim, series, format string, args ...any) string {
	s := fmt.Sprintf(format, args...)
	fmt.Fprintf(r.w, "%-12s %-16s note: %s\n", dim, series, s)
	return s
}

// budget decides whether a store loaded to the sizes of prev (their Load
// cumulative) can be brought to next within the load budget, and how
// long that would take. Loads are assumed to grow as they have between
// the last two sizes, and at least linearly.
func (r *run) budget(prev []Point, next int) (time.Duration, bool) {
	if len(prev) == 0 {
		return 0, true
	}
	last := prev[len(prev)-1]
	exp := 1.0
	if len(prev) >= 2 {
		p := prev[len(prev)-2]
		if p.Load > 0 && last.Load > p.Load {
			exp = math.Log(float64(last.Load)/float64(p.Load)) / math.Log(float64(last.N)/float64(p.N))
		}
	}
	// Small loads are mostly fixed costs, so a growth measured on them
	// understates the growth to come: the memory store's Revoke went from
	// 1.54 (1,000 to 10,000) to 2.2 (10,000 to 100,000). Any growth
	// faster than linear is taken as at least quadratic.
	if exp > 1.2 {
		exp = max(exp, 2)
	}
	exp = min(max(exp, 1), 3)
	total := time.Duration(float64(last.Load) * math.Pow(float64(next)/float64(last.N), exp))
	return total - last.Load, total-last.Load <= r.opts.LoadBudget
}

// summary prints each curve's end-to-end ratio and verdict.
func summary(w io.Writer, curves []Curve) {
	fmt.Fprintln(w, "\nsummary: latency at the largest n over the smallest, of the medians and of the fastest runs; flat = within 2x")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "dimension\tseries\tfrom\tto\tns/op\tratio\tflat\tfastest\tratio\tflat\t")
	for _, c := range curves {
		if len(c.Points) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\tnot measured\t-\t-\t-\t\n", c.Dimension, c.Series)
			continue
		}
		first, last := c.Points[0], c.Points[len(c.Points)-1]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f -> %.0f\t%.2fx\t%s\t%.0f -> %.0f\t%.2fx\t%s\t\n", c.Dimension, c.Series, first.N, last.N,
			first.NsPerOp, last.NsPerOp, c.Ratio(), verdict(len(c.Points), c.Ratio()),
			first.Fastest, last.Fastest, c.FastestRatio(), verdict(len(c.Points), c.FastestRatio()))
	}
	tw.Flush()
	for _, c := range curves {
		if c.Note != "" {
			fmt.Fprintf(w, "  %s/%s: %s\n", c.Dimension, c.Series, strings.TrimSpace(c.Note))
		}
	}
}

func verdict(points int, ratio float64) string {
	switch {
	case points < 2:
		return "one point"
	case flat(ratio):
		return "yes"
	}
	return "no"
}
