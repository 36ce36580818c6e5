package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// startServe runs serve in process with the test policy and returns its
// URL and the admin key it printed.
func startServe(t *testing.T) (url, admin string) {
	t.Helper()
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--policy", pol, "--node", "n1")
	m := keyRe.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed: %s", stderr.String())
	}
	return url, m[1]
}

func get(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sample returns the value of the series whose line starts with prefix
// (name and labels), or -1.
func sample(exposition, prefix string) float64 {
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok && strings.HasPrefix(rest, " ") {
			v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestServeMetrics: serve's /metrics is the Prometheus exposition of the
// client library: runtime, process and build series, the checks by
// effect, HTTP requests by route and status code, latency histograms
// with fine low buckets; and it stays behind authentication.
func TestServeMetrics(t *testing.T) {
	url, admin := startServe(t)
	vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": admin}
	check := func(args ...string) {
		t.Helper()
		r := runCLI(t, vars, "", append([]string{"check", "--agent", "billing-bot"}, args...)...)
		if r.code == exitFailure || r.code == exitUsage {
			t.Fatalf("check: %d %s", r.code, r.stderr)
		}
	}
	check("--tool", "payments.charge", "--attr", "amount=40")
	check("--tool", "customers.delete")

	if status, body := get(t, url+"/metrics", ""); status != http.StatusUnauthorized {
		t.Fatalf("/metrics without a credential: %d %s", status, body)
	}
	status, body := get(t, url+"/metrics", admin)
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	for _, name := range []string{
		"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"go_build_info{", "agenttrust_build_info{",
		`agenttrust_checks_total{effect="allow"}`, `agenttrust_checks_total{effect="deny"}`,
		`agenttrust_check_duration_seconds_bucket{effect="allow",le="5e-05"}`,
		`agenttrust_http_requests_total{code="200",route="POST /v1/actions/check"}`,
		`agenttrust_http_requests_total{code="401",route="GET /metrics"}`,
		`agenttrust_http_request_duration_seconds_bucket{route="POST /v1/actions/check",le="0.0001"}`,
		"agenttrust_tenants_opened_total", "agenttrust_audit_records_written_total", "agenttrust_audit_records_pending",
		"target_info{",
	} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("no series %s in /metrics", name)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	allowed := sample(body, `agenttrust_checks_total{effect="allow"}`)
	if allowed != 1 {
		t.Errorf("allowed checks: %v", allowed)
	}
	check("--tool", "payments.charge", "--attr", "amount=50")
	_, body = get(t, url+"/metrics", admin)
	if got := sample(body, `agenttrust_checks_total{effect="allow"}`); got != allowed+1 {
		t.Errorf("allowed checks after one more: %v", got)
	}
	if got := sample(body, `agenttrust_http_requests_total{code="200",route="POST /v1/actions/check"}`); got != 3 {
		t.Errorf("check requests: %v", got)
	}
}

// otlpReceiver is an OTLP/HTTP receiver: it decodes what is posted to
// /v1/traces and /v1/metrics and keeps the span and metric names.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   map[string]int
	metrics map[string]int
	bad     []string
}

func (rc *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil || r.Method != "POST" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		rc.bad = append(rc.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/v1/traces":
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			rc.bad = append(rc.bad, "traces: "+err.Error())
			break
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					rc.spans[s.Name]++
				}
			}
		}
		b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b)
	case "/v1/metrics":
		var req collectormetrics.ExportMetricsServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			rc.bad = append(rc.bad, "metrics: "+err.Error())
			break
		}
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					rc.metrics[m.Name]++
				}
			}
		}
		b, _ := proto.Marshal(&collectormetrics.ExportMetricsServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b)
	default:
		rc.bad = append(rc.bad, "path "+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestServeOTLP: with OTEL_EXPORTER_OTLP_ENDPOINT set, serve sends a span
// per check and its metrics to the OTLP/HTTP receiver it names.
func TestServeOTLP(t *testing.T) {
	rc := &otlpReceiver{spans: map[string]int{}, metrics: map[string]int{}}
	recv := httptest.NewServer(rc)
	defer recv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "50")
	t.Setenv("OTEL_SERVICE_NAME", "agenttrust-test")

	url, admin := startServe(t)
	vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": admin}
	for range 2 {
		if r := runCLI(t, vars, "", "check", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount=40"); r.code != exitOK {
			t.Fatalf("check: %d %s", r.code, r.stderr)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc.mu.Lock()
		spans, checks := rc.spans["agenttrust.check"], rc.metrics["agenttrust.checks"]
		http, bad := rc.metrics["agenttrust.http.requests"], append([]string(nil), rc.bad...)
		rc.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("the receiver refused: %v", bad)
		}
		if spans >= 2 && checks > 0 && http > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OTLP received %d check spans, %d exports of the check counter, %d of the request counter", spans, checks, http)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeOTLPProtocol: an OTLP protocol serve does not build in is
// refused at start, not exported into the void.
func TestServeOTLPProtocol(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	dir := t.TempDir()
	r := runCLI(t, nil, "", "serve", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "at.db"))
	if r.code != exitFailure || !regexp.MustCompile(`http/protobuf only`).MatchString(r.stderr) {
		t.Errorf("serve with OTLP over gRPC: exit %d, %s", r.code, r.stderr)
	}
}
