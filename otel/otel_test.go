package otel_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/otel"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: read
    effect: allow
    tools: [docs.read]
  - id: pay
    effect: needs_approval
    tools: [payments.charge]
  - id: no-delete
    effect: deny
    tools: [docs.delete]
limits:
  - id: slow
    tools: [docs.slow]
    rate: 1/m
    burst: 1
`

// fixture is a client instrumented with in-memory exporters.
type fixture struct {
	c      *agenttrust.Client
	obs    *otel.Observer
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
}

func newFixture(t *testing.T, opts ...agenttrust.Option) *fixture {
	t.Helper()
	f := &fixture{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(f.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader))
	t.Cleanup(func() { tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })
	var err error
	if f.obs, err = otel.New(otel.WithTracerProvider(tp), otel.WithMeterProvider(mp)); err != nil {
		t.Fatal(err)
	}
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.c, err = agenttrust.New(memory.New(), append([]agenttrust.Option{
		agenttrust.WithPolicy(p), agenttrust.WithObserver(f.obs), agenttrust.WithTenant("acme"),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.c.Close() })
	return f
}

// metrics collects the metrics by name.
func (f *fixture) metrics(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := f.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otel.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// sum returns the value of the counter name at the data point whose
// attributes are attrs (all of them, no other).
func (f *fixture) sum(t *testing.T, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	data, ok := f.metrics(t)[name]
	if !ok {
		return 0
	}
	want := attribute.NewSet(attrs...)
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			if dp.Attributes.Equals(&want) {
				return dp.Value
			}
		}
	case metricdata.Gauge[int64]:
		for _, dp := range d.DataPoints {
			if dp.Attributes.Equals(&want) {
				return dp.Value
			}
		}
	default:
		t.Fatalf("%s is a %T", name, data)
	}
	return 0
}

func TestCheckSpans(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		req          agenttrust.Request
		effect, rule string
		code         string
	}{
		{"allow", agenttrust.Request{AgentID: "bot", Tool: "docs.read"}, "allow", "read", ""},
		{"deny", agenttrust.Request{AgentID: "bot", Tool: "docs.delete"}, "deny", "no-delete", ""},
		{"needs approval", agenttrust.Request{AgentID: "bot", Tool: "payments.charge"}, "needs_approval", "pay", ""},
		{"error", agenttrust.Request{AgentID: "bot", Tool: "docs.read", Credential: "att_garbage"}, "deny", "", "malformed_credential"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.spans.Reset()
			d, _ := f.c.Check(ctx, tc.req)
			spans := f.spans.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			s := spans[0]
			attrs := attribute.NewSet(s.Attributes...)
			for k, want := range map[attribute.Key]string{
				"agenttrust.effect": tc.effect, "agenttrust.rule": tc.rule, "agenttrust.decision_id": d.ID.String(),
				"agenttrust.tenant": "acme", "agenttrust.agent": "bot", "agenttrust.tool": tc.req.Tool,
			} {
				if v, _ := attrs.Value(k); v.AsString() != want {
					t.Errorf("%s = %q, want %q", k, v.AsString(), want)
				}
			}
			v, hasCode := attrs.Value("error.type")
			if tc.code == "" && (hasCode || s.Status.Code == codes.Error) {
				t.Errorf("a decided check has an error: %v %v", v, s.Status)
			}
			if tc.code != "" && (v.AsString() != tc.code || s.Status.Code != codes.Error) {
				t.Errorf("error.type %q, status %v", v.AsString(), s.Status)
			}
			if s.Name != "agenttrust.check" || s.EndTime.Before(s.StartTime) {
				t.Errorf("span %q %v..%v", s.Name, s.StartTime, s.EndTime)
			}
		})
	}
}

// TestCheckSpanParent: the check's span is a child of the span in its
// context.
func TestCheckSpanParent(t *testing.T) {
	f := newFixture(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(f.spans))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	parent.End()
	spans := f.spans.GetSpans()
	if len(spans) != 2 || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans: %v", spans)
	}
}

func TestCheckMetrics(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for range 3 {
		f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	}
	f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.delete"})
	f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read", Credential: "att_garbage"})
	effect := attribute.Key("effect").String
	if n := f.sum(t, "agenttrust.checks", effect("allow")); n != 3 {
		t.Errorf("allowed checks: %d", n)
	}
	if n := f.sum(t, "agenttrust.checks", effect("deny")); n != 1 {
		t.Errorf("denied checks: %d", n)
	}
	if n := f.sum(t, "agenttrust.checks", effect("deny"), attribute.String("code", "malformed_credential")); n != 1 {
		t.Errorf("failed checks: %d", n)
	}
	h, ok := f.metrics(t)["agenttrust.check.duration"].(metricdata.Histogram[float64])
	if !ok {
		t.Fatal("no check duration histogram")
	}
	var count uint64
	for _, dp := range h.DataPoints {
		count += dp.Count
		if len(dp.Bounds) != len(otel.LatencyBuckets) || dp.Bounds[0] != 0.00005 {
			t.Errorf("bounds %v", dp.Bounds)
		}
	}
	if count != 5 {
		t.Errorf("latency observations: %d", count)
	}
}

func TestEventMetrics(t *testing.T) {
	f := newFixture(t, agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxDenials: 3}))
	ctx := context.Background()
	d, _ := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "payments.charge"})
	if err := f.c.Approve(ctx, d.ApprovalID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.slow"})
	f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.slow"}) // rate limited
	f.c.Revoke(ctx, "tok_x")
	f.c.Suspend(ctx, "sess-1", "")
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Exchange(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ExchangeJWT(ctx, key, "https://mail.example"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.c.Check(ctx, agenttrust.Request{AgentID: "bot2", Tool: "docs.delete"}) // trips the breaker
	}
	if err := f.c.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		attrs []attribute.KeyValue
		want  int64
	}{
		{"agenttrust.approvals.opened", nil, 1},
		{"agenttrust.approvals.decided", []attribute.KeyValue{attribute.String("outcome", "approved")}, 1},
		{"agenttrust.rate_limited", nil, 1},
		{"agenttrust.revocations", nil, 1},
		{"agenttrust.suspensions", nil, 1},
		{"agenttrust.breaker.trips", nil, 1},
		{"agenttrust.tokens.issued", []attribute.KeyValue{attribute.String("kind", "token")}, 1},
		{"agenttrust.tokens.issued", []attribute.KeyValue{attribute.String("kind", "jwt")}, 1},
		{"agenttrust.audit.records.written", nil, 12}, // 6 checks, 4 operator actions (approve, revoke, suspend, key), 2 mints
		{"agenttrust.audit.records.pending", nil, 0},
		{"agenttrust.audit.stuck_tenants", nil, 0},
	} {
		if got := f.sum(t, tc.name, tc.attrs...); got != tc.want {
			t.Errorf("%s %v = %d, want %d", tc.name, tc.attrs, got, tc.want)
		}
	}
}

// TestServerEvents: the events of the agenttrust server.
func TestServerEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ev := func(e observe.Event) { f.obs.Event(ctx, e) }
	ev(observe.Event{Kind: observe.HTTPRequest, Route: "POST /v1/actions/check", Status: 200, Duration: 300 * time.Microsecond})
	ev(observe.Event{Kind: observe.HTTPRequest, Route: "POST /v1/actions/check", Status: 200, Duration: time.Millisecond})
	ev(observe.Event{Kind: observe.HTTPRequest, Route: "POST /v1/actions/check", Status: 503, Duration: time.Millisecond})
	ev(observe.Event{Kind: observe.HTTPRequest, Status: 404})
	ev(observe.Event{Kind: observe.StoreError})
	ev(observe.Event{Kind: observe.TenantOpened, Tenant: "a"})
	ev(observe.Event{Kind: observe.TenantOpened, Tenant: "b"})
	ev(observe.Event{Kind: observe.AuditWritten, Tenant: "a", N: 1, Pending: 5})
	ev(observe.Event{Kind: observe.AuditWritten, Tenant: "b", N: 1, Pending: 2})
	ev(observe.Event{Kind: observe.AuditStuck, Tenant: "a", Outcome: "stuck"})
	ev(observe.Event{Kind: observe.AuditStuck, Tenant: "b", Outcome: "stuck"})
	ev(observe.Event{Kind: observe.AuditStuck, Tenant: "b", Outcome: "recovered"})
	ev(observe.Event{Kind: observe.TenantClosed, Tenant: "b"})
	ev(observe.Event{Kind: observe.ChainBreak, Tenant: "c"})
	ev(observe.Event{Kind: observe.ShadowDisagreed, Tenant: "a", Agent: "bot", Tool: "t", Outcome: "deny"})
	ev(observe.Event{Kind: observe.ShadowDisagreed, Tenant: "a", Agent: "bot", Tool: "t", Outcome: "deny"})
	ev(observe.Event{Kind: observe.ShadowDisagreed, Tenant: "a", Agent: "bot", Tool: "t", Outcome: "error"})
	route := attribute.Key("route").String
	code := attribute.Key("code").String
	for _, tc := range []struct {
		name  string
		attrs []attribute.KeyValue
		want  int64
	}{
		{"agenttrust.http.requests", []attribute.KeyValue{route("POST /v1/actions/check"), code("200")}, 2},
		{"agenttrust.http.requests", []attribute.KeyValue{route("POST /v1/actions/check"), code("503")}, 1},
		{"agenttrust.http.requests", []attribute.KeyValue{route("unmatched"), code("404")}, 1},
		{"agenttrust.store.errors", nil, 1},
		{"agenttrust.tenants.opened", nil, 2},
		{"agenttrust.tenants.idle_closed", nil, 1},
		{"agenttrust.tenants.open", nil, 1},
		{"agenttrust.audit.records.pending", nil, 5},
		{"agenttrust.audit.stuck_tenants", nil, 1},
		{"agenttrust.audit.chain_breaks", nil, 1},
		{"agenttrust.shadow.disagreements", []attribute.KeyValue{attribute.String("shadow_effect", "deny")}, 2},
		{"agenttrust.shadow.disagreements", []attribute.KeyValue{attribute.String("shadow_effect", "error")}, 1},
	} {
		if got := f.sum(t, tc.name, tc.attrs...); got != tc.want {
			t.Errorf("%s %v = %d, want %d", tc.name, tc.attrs, got, tc.want)
		}
	}
	h := f.metrics(t)["agenttrust.http.request.duration"].(metricdata.Histogram[float64])
	if len(h.DataPoints) != 2 {
		t.Fatalf("duration series: %+v", h.DataPoints)
	}
	for _, dp := range h.DataPoints {
		if r, _ := dp.Attributes.Value("route"); r.AsString() == "POST /v1/actions/check" && (dp.Count != 3 || dp.BucketCounts[3] != 1 || dp.BucketCounts[4] != 2) {
			t.Errorf("check route latency: %d in %v", dp.Count, dp.BucketCounts)
		}
	}
}

// TestCheckAllocations: with metrics only (a noop tracer provider, as
// serve has without OTLP), an instrumented check allocates nothing.
func TestCheckAllocations(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	obs, err := otel.New(otel.WithTracerProvider(noop.NewTracerProvider()), otel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	req := agenttrust.Request{AgentID: "bot", Tool: "docs.read"}
	for range 100 {
		c.Check(ctx, req) // warm the pools and the attribute sets
	}
	if n := testing.AllocsPerRun(200, func() { c.Check(ctx, req) }); n != 0 {
		t.Errorf("an instrumented check allocates %v times", n)
	}
	obs.Event(ctx, observe.Event{Kind: observe.HTTPRequest, Route: "GET /healthz", Status: 200})
	if n := testing.AllocsPerRun(200, func() {
		obs.Event(ctx, observe.Event{Kind: observe.HTTPRequest, Route: "GET /healthz", Status: 200})
	}); n != 0 {
		t.Errorf("an observed request allocates %v times", n)
	}
}
