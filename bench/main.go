package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

func main() {
	testing.Init() // registers test.benchtime, which testing.Benchmark reads
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	out, log := io.Writer(os.Stdout), io.Writer(os.Stdout)
	if o.json {
		log = os.Stderr // the tables go beside the JSON, not into it
	}
	rep, err := run(context.Background(), o, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// options are the command's flags.
type options struct {
	benchtime string // per measurement, as go test -benchtime
	quick     bool
	count     int      // rounds of every case, taken in turns; the median is reported
	only      []string // section names; all when empty
	json      bool
	sizes     []int  // policy counts of the policy section
	heapMiB   int    // live heap held during the policy section (-heap)
	scaleMax  int    // the scale section's largest size
	plots     string // where the scale section writes its PNG plots
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var only string
	fs.StringVar(&o.benchtime, "benchtime", "1s", "time (or Nx iterations) per measurement, as go test -benchtime")
	fs.IntVar(&o.count, "count", 1, "rounds of every case, taken in turns; the table shows each case's median")
	fs.BoolVar(&o.quick, "quick", false, "short measurements (-benchtime 50ms) for CI: proves the command runs, the figures are rough")
	fs.StringVar(&only, "only", "", "comma-separated sections to run: "+strings.Join(sectionNames(), ", "))
	fs.BoolVar(&o.json, "json", false, "print the results as JSON on stdout (the tables go to stderr)")
	fs.IntVar(&o.heapMiB, "heap", 0, "`MiB` of live heap to hold during the policy section, as a service's own data would; its bars are then not judged")
	fs.IntVar(&o.scaleMax, "scale-max", 1_000_000, "the scale section's largest number of keys and revocations (a power of ten)")
	fs.StringVar(&o.plots, "plots", "plots", "`DIR` for the scale section's PNG plots")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags]\n\nMeasures agenttrust beside cedar-go, OPA, gopkg.in/macaroon.v2 and golang-jwt in one process\nand prints ns/op, allocs/op and ratios from the same run, with the project's bars.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q\n", fs.Args())
		return o, errors.New("unexpected arguments")
	}
	if o.count < 1 {
		fmt.Fprintln(stderr, "bench: -count must be at least 1")
		return o, errors.New("bad -count")
	}
	benchtimeSet := false
	fs.Visit(func(f *flag.Flag) { benchtimeSet = benchtimeSet || f.Name == "benchtime" })
	if o.quick && !benchtimeSet {
		o.benchtime = "50ms"
	}
	if only != "" {
		for s := range strings.SplitSeq(only, ",") {
			if !slices.Contains(sectionNames(), s) {
				fmt.Fprintf(stderr, "bench: no section %q (have %s)\n", s, strings.Join(sectionNames(), ", "))
				return o, errors.New("unknown section")
			}
			o.only = append(o.only, s)
		}
	}
	o.sizes = []int{10, 1_000, 100_000}
	return o, nil
}

// A section measures one comparison, prints its table to w as soon as it
// has it, and records its results and bars in rep.
type section struct {
	name string
	run  func(ctx context.Context, w io.Writer, o options, rep *report) error
}

// sections in the order they run.
var sections = []section{
	{"policy", runPolicy},
	{"credentials", runCredentials},
	{"remote", runRemote},
	{"scale", runScale},
}

func sectionNames() []string {
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	return names
}

// run measures the sections o selects, printing each table and then the
// bars to w. The bars are printed whether they pass or not; run fails
// only when a measurement cannot be made (a setup error, an engine
// deciding other than the scenario says).
func run(ctx context.Context, o options, w io.Writer) (*report, error) {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return nil, errors.New("testing.Init was not called")
	}
	old := f.Value.String()
	if err := f.Value.Set(o.benchtime); err != nil {
		return nil, fmt.Errorf("-benchtime: %w", err)
	}
	defer f.Value.Set(old)

	rep := newReport(o)
	fmt.Fprintf(w, "agenttrust bench  %s  %s/%s  %s (%d CPUs, load %s)  benchtime %s  count %d\n", rep.GoVersion, rep.GOOS, rep.GOARCH, rep.CPU, rep.CPUs, rep.Load, o.benchtime, o.count)
	var peers []string
	for _, p := range slices.Sorted(maps.Keys(rep.Peers)) {
		peers = append(peers, p+" "+rep.Peers[p])
	}
	fmt.Fprintf(w, "peers: %s\n\n", strings.Join(peers, ", "))
	for _, s := range sections {
		if len(o.only) > 0 && !slices.Contains(o.only, s.name) {
			continue
		}
		if err := s.run(ctx, w, o, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", s.name, err)
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	printBars(w, rep.Bars)
	return rep, nil
}
