package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// report is what one run measured, as -json prints it.
type report struct {
	Date      string `json:"date"`
	GoVersion string `json:"go"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPU       string `json:"cpu"`
	CPUs      int    `json:"cpus"`
	Benchtime string `json:"benchtime"`
	Count     int    `json:"count"`
	// Peers are the versions of the libraries measured beside agenttrust.
	Peers map[string]string `json:"peers"`
	// Load is the machine's load average over the minute before the run
	// (Linux): other work on the machine slows every case, not their
	// ratios alone.
	Load string `json:"load,omitempty"`
	// Results are keyed like go test benchmarks: section/case/subject.
	Results []result `json:"results"`
	Bars    []bar    `json:"bars"`
	// Remote holds the remote section's result once it is wired in.
	Remote any `json:"remote,omitempty"`
}

type result struct {
	Name        string  `json:"name"`
	N           int     `json:"n"`
	NsPerOp     float64 `json:"ns_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"` // as go test prints it: whole allocations
	Allocs      float64 `json:"allocs"`        // allocations over iterations, unrounded
	BytesPerOp  int64   `json:"bytes_per_op"`
}

// bar is one of the project's speed bars and what this run says of it.
type bar struct {
	Name  string  `json:"name"`
	Want  string  `json:"want"`
	Got   string  `json:"got"`
	Value float64 `json:"value"` // the figure Got shows, for comparing runs
	Pass  bool    `json:"pass"`
	Note  string  `json:"note,omitempty"`
}

func newReport(o options) *report {
	return &report{
		Date:      time.Now().UTC().Format(time.RFC3339),
		GoVersion: runtime.Version(),
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
		CPU:       cpuModel(),
		CPUs:      runtime.NumCPU(),
		Benchtime: o.benchtime,
		Count:     o.count,
		Peers:     peerVersions(),
		Load:      loadAverage(),
	}
}

// peerVersions reads the peers' module versions from the build.
func peerVersions() map[string]string {
	peers := map[string]string{}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return peers
	}
	for _, m := range bi.Deps {
		switch m.Path {
		case "github.com/cedar-policy/cedar-go", "github.com/open-policy-agent/opa",
			"gopkg.in/macaroon.v2", "github.com/golang-jwt/jwt/v5":
			peers[m.Path] = m.Version
		}
	}
	return peers
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// cpuModel is the model name Linux reports, as go test prints "cpu:".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// measure times decide with testing.Benchmark, after checking that it
// answers want, and fails if it ever answers otherwise: a benchmark of an
// engine that decided something else would compare unequal work.
func measure(name string, decide func() (bool, error), want bool) (result, error) {
	if got, err := decide(); err != nil || got != want {
		return result{}, fmt.Errorf("%s: decided allow=%v (%v), the scenario says allow=%v", name, got, err, want)
	}
	// Warm up (pools, caches, the audit ring's first growth) so that the
	// order in which cases run does not decide their figures.
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		if _, err := decide(); err != nil {
			return result{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	var bad error
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if got, err := decide(); err != nil || got != want {
				bad = fmt.Errorf("%s: decided allow=%v (%v) during the run", name, got, err)
				b.FailNow()
			}
		}
	})
	if bad != nil {
		return result{}, bad
	}
	if r.N == 0 {
		return result{}, fmt.Errorf("%s: no iterations", name)
	}
	return result{Name: name, N: r.N, NsPerOp: float64(r.T.Nanoseconds()) / float64(r.N),
		AllocsPerOp: r.AllocsPerOp(), Allocs: float64(r.MemAllocs) / float64(r.N), BytesPerOp: r.AllocedBytesPerOp()}, nil
}

// median is the run with the median ns/op of rs, which are runs of one
// case taken in turns with the cases it is compared with, so that a
// passing load on the machine weighs on all of them alike.
func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return cmp.Compare(a.NsPerOp, b.NsPerOp) })
	return s[len(s)/2]
}

// ratio is how many times faster subject is than peer.
func ratio(peer, subject result) float64 { return peer.NsPerOp / subject.NsPerOp }

// times formats a ratio.
func times(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0fx", x)
	}
	return fmt.Sprintf("%.1fx", x)
}

func ns(r result) string {
	switch {
	case r.NsPerOp >= 100_000:
		return fmt.Sprintf("%.0fµs", r.NsPerOp/1000)
	case r.NsPerOp >= 10_000:
		return fmt.Sprintf("%.1fµs", r.NsPerOp/1000)
	default:
		return fmt.Sprintf("%.0fns", r.NsPerOp)
	}
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
}

func printBars(w io.Writer, bars []bar) {
	if len(bars) == 0 {
		return
	}
	pass := 0
	fmt.Fprintln(w, "bars")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, b := range bars {
		verdict := "FAIL"
		if b.Pass {
			verdict, pass = "PASS", pass+1
		}
		note := ""
		if b.Note != "" {
			note = "\t(" + b.Note + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\twant %s\tgot %s%s\n", verdict, b.Name, b.Want, b.Got, note)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d bars pass\n", pass, len(bars))
}
