package remote

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// BenchmarkRemote runs the whole comparison once per iteration and
// reports the last run's figures:
//
//	cd bench && go test -run '^$' -bench Remote -benchtime 1x ./remote/
func BenchmarkRemote(b *testing.B) {
	var res Result
	for b.Loop() {
		var err error
		if res, err = Run(b.Context(), nil, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	res.Print(&buf)
	b.Log("\n" + buf.String())
	for _, m := range res.Measurements {
		b.ReportMetric(m.PerSec, m.Target+"-req/s")
		b.ReportMetric(float64(m.P99.Microseconds()), m.Target+"-p99-µs")
		if m.Target != "echo" {
			b.ReportMetric(res.Ratio(m.Target), m.Target+"-x-echo")
		}
	}
}

// A short run against every target answers, with plausible figures and a
// table naming each.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts agenttrust serve twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, &out, Options{Clients: 4, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"echo", "serve-async", "serve-durable"} {
		m, ok := res.Get(name)
		if !ok {
			t.Fatalf("no measurement of %s", name)
		}
		if m.Requests == 0 || m.Errors != 0 || m.P50 <= 0 || m.P99 < m.P50 {
			t.Errorf("%s: %+v", name, m)
		}
		if name != "echo" && (res.Ratio(name) <= 0 || m.ServerCPU <= 0) {
			t.Errorf("%s: ratio %v, server CPU %v", name, res.Ratio(name), m.ServerCPU)
		}
		if !strings.Contains(out.String(), name) {
			t.Errorf("table lacks %s:\n%s", name, out.String())
		}
	}
}

func TestRunRefusesUnknownTarget(t *testing.T) {
	if _, err := Run(context.Background(), nil, Options{Targets: []string{"nginx"}}); err == nil {
		t.Fatal("unknown target accepted")
	}
}
