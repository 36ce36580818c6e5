package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used, user and system: unlike
// wall time, it hardly moves with other load on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The load bar: the server's own overhead per check against a bare
// net/http JSON echo, both over loopback httptest with keep-alive, from
// parallel clients, measured in the same run:
//
//	go test -run '^$' -bench 'ServerCheck|Echo' -benchtime 3s ./server/
//
// Each reports req/s and the p99 latency; TestCheckOverhead (with
// AGENTTRUST_BENCH=1) runs both and fails if the check's time per request
// is over 1.5 times the echo's.

const benchBody = `{"tool_name":"docs.read","resource":"doc-1","session_id":"s-1","attributes":{"amount":40,"currency":"EUR"}}`

// echoRequest and echoResponse have the check's shapes.
type echoRequest struct {
	AgentID    string         `json:"agent_id"`
	ToolName   string         `json:"tool_name"`
	Resource   string         `json:"resource"`
	SessionID  string         `json:"session_id"`
	OnBehalfOf string         `json:"on_behalf_of"`
	Attributes map[string]any `json:"attributes"`
	Credential string         `json:"credential"`
}

type echoResponse struct {
	Allowed    bool   `json:"allowed"`
	Effect     string `json:"effect"`
	Reason     string `json:"reason"`
	RuleID     string `json:"rule_id"`
	DecisionID string `json:"decision_id"`
	ApprovalID string `json:"approval_id"`
}

// echoHandler is the bare net/http JSON handler the server is measured
// against: decode the request, answer with a response of the same shape.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var req echoRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, MaxBodySize)).Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(echoResponse{Allowed: true, Effect: "allow", Reason: req.Resource, RuleID: req.ToolName, DecisionID: "0190a5e0-0000-7000-8000-000000000000"})
})

// load sends POSTs of body to url from parallel clients for b.N requests
// and reports req/s and p99.
func load(b *testing.B, url, cred string) {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	var lat []time.Duration
	body := []byte(benchBody)
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		rd := bytes.NewReader(body)
		for pb.Next() {
			rd.Reset(body)
			req, _ := http.NewRequest("POST", url, rd)
			req.Header.Set("Content-Type", "application/json")
			if cred != "" {
				req.Header.Set("Authorization", "Bearer "+cred)
			}
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			local = append(local, time.Since(t0))
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e3, "cpu-µs/op")
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkEcho(b *testing.B) {
	ts := httptest.NewServer(echoHandler)
	defer ts.Close()
	load(b, ts.URL+"/v1/actions/check", "")
}

func BenchmarkServerCheck(b *testing.B) {
	e := newEnv(b)
	load(b, e.ts.URL+"/v1/actions/check", e.key("acme/bot"))
}

// BenchmarkServerCheckToken checks with a token as the bearer, the usual
// case for an agent.
func BenchmarkServerCheckToken(b *testing.B) {
	e := newEnv(b)
	tok := e.exchange(e.key("acme/bot"))
	load(b, e.ts.URL+"/v1/actions/check", tok)
}

func TestCheckOverhead(t *testing.T) {
	if os.Getenv("AGENTTRUST_BENCH") == "" {
		t.Skip("set AGENTTRUST_BENCH=1 to measure the server against a bare echo")
	}
	// Alternate the two, so that both see the same machine, and compare
	// medians.
	const rounds = 5
	var echo, check []testing.BenchmarkResult
	for range rounds {
		echo = append(echo, testing.Benchmark(BenchmarkEcho))
		check = append(check, testing.Benchmark(BenchmarkServerCheck))
	}
	med := func(rs []testing.BenchmarkResult) testing.BenchmarkResult {
		slices.SortFunc(rs, func(a, b testing.BenchmarkResult) int { return int(a.NsPerOp() - b.NsPerOp()) })
		return rs[len(rs)/2]
	}
	e, c := med(echo), med(check)
	ratio := float64(c.NsPerOp()) / float64(e.NsPerOp())
	t.Logf("echo:  %s %s", e, e.MemString())
	t.Logf("check: %s %s", c, c.MemString())
	t.Logf("check/echo per request (medians of %d): time %.2f, CPU %.2f", rounds, ratio, c.Extra["cpu-µs/op"]/e.Extra["cpu-µs/op"])
	if ratio > 1.5 {
		t.Errorf("a check costs %.2f times a bare echo, over the 1.5 bar", ratio)
	}
}

// BenchmarkHandlerCheck and BenchmarkHandlerEcho call the handlers
// directly, without the network: the CPU each spends per request.
func BenchmarkHandlerCheck(b *testing.B) {
	e := newEnv(b)
	benchHandler(b, e.srv, e.key("acme/bot"))
}

func BenchmarkHandlerEcho(b *testing.B) { benchHandler(b, echoHandler, "") }

func benchHandler(b *testing.B, h http.Handler, cred string) {
	body := []byte(benchBody)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/1e3, "cpu-µs/op") }()
	b.RunParallel(func(pb *testing.PB) {
		rd := bytes.NewReader(body)
		for pb.Next() {
			rd.Reset(body)
			req := httptest.NewRequest("POST", "/v1/actions/check", rd)
			req.Header.Set("Content-Type", "application/json")
			if cred != "" {
				req.Header.Set("Authorization", "Bearer "+cred)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkAccessLog writes the access log line of a check through a
// slog text handler (WithAccessLog, as serve did) and without slog
// (WithAccessLogText and WithAccessLogJSON), into a writer that counts
// the bytes.
func BenchmarkAccessLog(b *testing.B) {
	for _, tc := range []struct {
		name string
		opt  func(io.Writer) Option
	}{
		{"slog-text", func(w io.Writer) Option { return WithAccessLog(slog.New(slog.NewTextHandler(w, nil))) }},
		{"text", WithAccessLogText},
		{"json", WithAccessLogJSON},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var out countWriter
			s := &Server{}
			if err := tc.opt(&out)(s); err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest("POST", "/v1/actions/check", nil)
			c := &call{r: r, rt: &route{method: "POST", path: "/v1/actions/check"}, status: 200, start: time.Now(),
				reqID: "req_01JEXAMPLE0000000000000000", decision: "0190a5e0-0000-7000-8000-000000000000"}
			c.p.Tenant = "acme"
			b.ReportAllocs()
			for b.Loop() {
				s.accessLog(c)
			}
			if out.n == 0 {
				b.Fatal("no line written")
			}
		})
	}
}

// countWriter counts the bytes written to it.
type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
