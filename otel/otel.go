// Package otel instruments agenttrust with OpenTelemetry: an
// observe.Observer that makes a span of every check and keeps the
// metrics an operator watches. Install it with agenttrust.WithObserver,
// or server.WithObserver for the HTTP server:
//
//	obs, err := otel.New(otel.WithTracerProvider(tp), otel.WithMeterProvider(mp))
//	...
//	c, err := agenttrust.New(st, agenttrust.WithObserver(obs))
//
// It is its own module, so the core module keeps no OpenTelemetry
// dependency.
//
// # Spans
//
// One span per check, "agenttrust.check", a child of the span in the
// check's context, from the check's start to its end by the client's
// clock. Attributes: agenttrust.effect, agenttrust.rule,
// agenttrust.decision_id, agenttrust.tenant, agenttrust.agent,
// agenttrust.tool, and error.type (the error code) with an Error status
// when the check could not decide.
//
// # Metrics
//
// Names as the Prometheus exporter writes them (the OpenTelemetry names
// use dots: agenttrust.checks):
//
//	agenttrust_checks_total{effect, code}          checks; code only when the check failed
//	agenttrust_check_duration_seconds{effect}      histogram of check latency
//	agenttrust_approvals_opened_total
//	agenttrust_approvals_decided_total{outcome}    approved | denied
//	agenttrust_revocations_total
//	agenttrust_suspensions_total
//	agenttrust_rate_limited_total
//	agenttrust_breaker_trips_total
//	agenttrust_tokens_issued_total{kind}           token | jwt | delegation
//	agenttrust_audit_records_written_total
//	agenttrust_audit_records_pending               gauge, over every tenant
//	agenttrust_audit_stuck_tenants                 gauge: tenants whose checks deny for the audit
//
// and those of the agenttrust server (server.WithObserver):
//
//	agenttrust_http_requests_total{route, code}    code is the status code (200, 404, 503)
//	agenttrust_http_request_duration_seconds{route}
//	agenttrust_store_errors_total
//	agenttrust_tenants_open
//	agenttrust_tenants_opened_total
//	agenttrust_tenants_idle_closed_total
//	agenttrust_audit_chain_breaks_total
//
// Labels take few values: no agent, tool, tenant or resource is a label
// (those are on spans).
package otel

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

	gotel "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/observe"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/agenttrust/agenttrust/otel"

// LatencyBuckets are the default bounds, in seconds, of the latency
// histograms: fine below a millisecond, where checks are, up to 5 s.
var LatencyBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// Option configures New.
type Option func(*config)

type config struct {
	tp      trace.TracerProvider
	mp      metric.MeterProvider
	buckets []float64
}

// WithTracerProvider sets where spans go (default: the global provider).
// With a noop.TracerProvider no span is made at all.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets where metrics go (default: the global provider).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithLatencyBuckets sets the bounds, in seconds, of the latency
// histograms (default LatencyBuckets).
func WithLatencyBuckets(b ...float64) Option { return func(c *config) { c.buckets = b } }

// Observer implements observe.Observer with OpenTelemetry. Build one
// with New; it is safe for concurrent use.
type Observer struct {
	tracer trace.Tracer

	checks, approvalsOpened, approvalsDecided, revocations, suspensions metric.Int64Counter
	rateLimited, breakerTrips, tokensIssued, auditWritten               metric.Int64Counter
	httpRequests, storeErrors, tenantsOpened, tenantsClosed             metric.Int64Counter
	chainBreaks, shadowDisagreed                                        metric.Int64Counter
	tenantsOpen                                                         metric.Int64UpDownCounter
	checkDuration, httpDuration                                         metric.Float64Histogram

	// sets holds the attribute sets by setKey, built once each: a map
	// replaced whole on a miss, so a hit takes no lock and allocates
	// nothing.
	sets   atomic.Pointer[map[setKey]attrs]
	setsMu sync.Mutex

	mu      sync.Mutex
	pending map[string]int64    // audit queue depth by tenant
	stuck   map[string]struct{} // tenants whose audit is stuck
}

// setKey names a set of metric attributes.
type setKey struct {
	name, a, b string
	n          int
}

// attrs is a set of metric attributes as options, in slices made once so
// that passing them allocates nothing.
type attrs struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

var _ observe.Observer = (*Observer)(nil)

// New returns an Observer with its instruments made.
func New(opts ...Option) (*Observer, error) {
	cfg := config{buckets: LatencyBuckets}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.tp == nil {
		cfg.tp = gotel.GetTracerProvider()
	}
	if cfg.mp == nil {
		cfg.mp = gotel.GetMeterProvider()
	}
	o := &Observer{
		pending: map[string]int64{},
		stuck:   map[string]struct{}{},
	}
	if _, off := cfg.tp.(noop.TracerProvider); !off {
		o.tracer = cfg.tp.Tracer(ScopeName)
	}
	o.sets.Store(&map[setKey]attrs{})
	m := cfg.mp.Meter(ScopeName)
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"),
			metric.WithExplicitBucketBoundaries(cfg.buckets...))
		errs = append(errs, err)
		return h
	}
	o.checks = counter("agenttrust.checks", "Checks decided, by effect, and by error code when the check could not decide and denied.")
	o.checkDuration = histogram("agenttrust.check.duration", "Time a check took, audit included, by effect.")
	o.approvalsOpened = counter("agenttrust.approvals.opened", "Pending approvals opened by checks.")
	o.approvalsDecided = counter("agenttrust.approvals.decided", "Approvals decided, by outcome (approved, denied).")
	o.revocations = counter("agenttrust.revocations", "Revocations recorded.")
	o.suspensions = counter("agenttrust.suspensions", "Suspensions of agents or sessions.")
	o.rateLimited = counter("agenttrust.rate_limited", "Checks denied by a rate limit.")
	o.breakerTrips = counter("agenttrust.breaker.trips", "Agents suspended by the runaway breaker.")
	o.tokensIssued = counter("agenttrust.tokens.issued", "Credentials minted, by kind (token, jwt, delegation).")
	o.auditWritten = counter("agenttrust.audit.records.written", "Audit records written to every sink.")
	o.httpRequests = counter("agenttrust.http.requests", "HTTP requests answered, by route and status code.")
	o.httpDuration = histogram("agenttrust.http.request.duration", "Time to answer an HTTP request, by route.")
	o.storeErrors = counter("agenttrust.store.errors", "Requests and checks that failed because the store was unavailable.")
	o.tenantsOpened = counter("agenttrust.tenants.opened", "Tenant Clients opened, again after an idle close included.")
	o.tenantsClosed = counter("agenttrust.tenants.idle_closed", "Tenant Clients closed for being idle.")
	o.chainBreaks = counter("agenttrust.audit.chain_breaks", "Tenant opens refused because the tenant's audit chain was cut or rewritten.")
	o.shadowDisagreed = counter("agenttrust.shadow.disagreements", "Checks the shadow policy decided otherwise than the live one (not enforced), by the shadow's effect or error.")
	var err error
	o.tenantsOpen, err = m.Int64UpDownCounter("agenttrust.tenants.open", metric.WithDescription("Tenants with a Client open."))
	errs = append(errs, err)
	pending, err := m.Int64ObservableGauge("agenttrust.audit.records.pending", metric.WithDescription("Audit records waiting to be written, over every tenant."))
	errs = append(errs, err)
	stuck, err := m.Int64ObservableGauge("agenttrust.audit.stuck_tenants", metric.WithDescription("Tenants whose audit writes have failed past their bound (their checks deny)."))
	errs = append(errs, err)
	_, err = m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		o.mu.Lock()
		var n int64
		for _, p := range o.pending {
			n += p
		}
		s := int64(len(o.stuck))
		o.mu.Unlock()
		ob.ObserveInt64(pending, n)
		ob.ObserveInt64(stuck, s)
		return nil
	}, pending, stuck)
	errs = append(errs, err)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

// set returns the attribute set of k, made once.
func (o *Observer) set(k setKey) attrs {
	if s, ok := (*o.sets.Load())[k]; ok {
		return s
	}
	o.setsMu.Lock()
	defer o.setsMu.Unlock()
	old := *o.sets.Load()
	if s, ok := old[k]; ok {
		return s
	}
	var kvs []attribute.KeyValue
	switch k.name {
	case "check":
		kvs = append(kvs, attribute.String("effect", k.a))
		if k.b != "" {
			kvs = append(kvs, attribute.String("code", k.b))
		}
	case "http":
		kvs = append(kvs, attribute.String("route", k.a))
		if k.n != 0 {
			kvs = append(kvs, attribute.String("code", strconv.Itoa(k.n)))
		}
	default:
		kvs = append(kvs, attribute.String(k.name, k.a))
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kvs...))
	s := attrs{add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}}
	m := make(map[setKey]attrs, len(old)+1)
	maps.Copy(m, old)
	m[k] = s
	o.sets.Store(&m)
	return s
}

// Check implements observe.Observer: a span and the check metrics.
func (o *Observer) Check(ctx context.Context, c observe.Check) {
	o.checks.Add(ctx, 1, o.set(setKey{name: "check", a: c.Effect, b: c.Code}).add...)
	o.checkDuration.Record(ctx, c.Duration.Seconds(), o.set(setKey{name: "check", a: c.Effect}).rec...)
	if o.tracer == nil {
		return
	}
	_, span := o.tracer.Start(ctx, "agenttrust.check", trace.WithTimestamp(c.Start), trace.WithSpanKind(trace.SpanKindInternal))
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("agenttrust.effect", c.Effect),
			attribute.String("agenttrust.rule", c.Rule),
			attribute.String("agenttrust.decision_id", agenttrust.DecisionID(c.DecisionID).String()),
			attribute.String("agenttrust.tenant", c.Tenant),
			attribute.String("agenttrust.agent", c.Agent),
			attribute.String("agenttrust.tool", c.Tool),
		)
		if c.Code != "" {
			span.SetAttributes(attribute.String("error.type", c.Code))
			span.SetStatus(codes.Error, c.Reason)
		}
	}
	span.End(trace.WithTimestamp(c.Start.Add(c.Duration)))
}

// Event implements observe.Observer: the event's metric.
func (o *Observer) Event(ctx context.Context, e observe.Event) {
	switch e.Kind {
	case observe.ApprovalOpened:
		o.approvalsOpened.Add(ctx, 1)
	case observe.ApprovalDecided:
		o.approvalsDecided.Add(ctx, 1, o.set(setKey{name: "outcome", a: e.Outcome}).add...)
	case observe.Revoked:
		o.revocations.Add(ctx, 1)
	case observe.Suspended:
		o.suspensions.Add(ctx, 1)
	case observe.RateLimited:
		o.rateLimited.Add(ctx, 1)
	case observe.BreakerTripped:
		o.breakerTrips.Add(ctx, 1)
	case observe.TokenIssued:
		o.tokensIssued.Add(ctx, 1, o.set(setKey{name: "kind", a: e.Outcome}).add...)
	case observe.AuditWritten:
		o.auditWritten.Add(ctx, e.N)
		o.mu.Lock()
		o.pending[e.Tenant] = e.Pending
		o.mu.Unlock()
	case observe.AuditStuck:
		o.mu.Lock()
		if e.Outcome == "stuck" {
			o.stuck[e.Tenant] = struct{}{}
		} else {
			delete(o.stuck, e.Tenant)
		}
		o.mu.Unlock()
	case observe.HTTPRequest:
		route := e.Route
		if route == "" {
			route = "unmatched"
		}
		o.httpRequests.Add(ctx, 1, o.set(setKey{name: "http", a: route, n: e.Status}).add...)
		o.httpDuration.Record(ctx, e.Duration.Seconds(), o.set(setKey{name: "http", a: route}).rec...)
	case observe.StoreError:
		o.storeErrors.Add(ctx, 1)
	case observe.TenantOpened:
		o.tenantsOpened.Add(ctx, 1)
		o.tenantsOpen.Add(ctx, 1)
	case observe.TenantClosed:
		o.tenantsClosed.Add(ctx, 1)
		o.tenantsOpen.Add(ctx, -1)
		o.mu.Lock()
		delete(o.pending, e.Tenant)
		delete(o.stuck, e.Tenant)
		o.mu.Unlock()
	case observe.ChainBreak:
		o.chainBreaks.Add(ctx, 1)
	case observe.ShadowDisagreed:
		o.shadowDisagreed.Add(ctx, 1, o.set(setKey{name: "shadow_effect", a: e.Outcome}).add...)
	}
}
