package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// scrapePrincipal is who a request bearing the metrics scrape token is.
var scrapePrincipal = agenttrust.Principal{AgentID: "metrics-scraper", Roles: []string{store.RoleMetrics}}

// isScrapeToken reports whether r bears the metrics scrape token. It reads
// no store: that is its point.
func (s *Server) isScrapeToken(r *http.Request) bool {
	if s.scrapeHash == nil {
		return false
	}
	cred, ok := bearer(r)
	if !ok || len(cred) > maxMetricsTokenLen {
		return false
	}
	h := sha256.Sum256([]byte(cred))
	return subtle.ConstantTimeCompare(h[:], s.scrapeHash[:]) == 1
}

func validScrapeToken(t string) error {
	if len(t) < MinMetricsTokenLen || len(t) > maxMetricsTokenLen {
		return errors.New("must be 32-512 characters")
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return errors.New("must be printable ASCII without spaces")
		}
	}
	for _, p := range redact.Marks {
		if strings.HasPrefix(t, p) {
			return errors.New("must not look like an agenttrust credential")
		}
	}
	return nil
}

// latencyBuckets are the upper bounds, in seconds, of the check latency
// histogram.
var latencyBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// metrics are the server's counters, updated with atomics on the hot path
// and written in the Prometheus text format by hand.
type metrics struct {
	checks      [3]atomic.Uint64 // by effect
	checkErrors atomic.Uint64
	buckets     [len(latencyBuckets) + 1]atomic.Uint64 // the last is +Inf
	latencySum  atomic.Uint64                          // nanoseconds
	storeErrors atomic.Uint64
	// tenantsOpened counts the tenant Clients opened; tenantsClosed those
	// closed for being idle (WithTenantIdle).
	tenantsOpened, tenantsClosed atomic.Uint64
	// chainBreaks counts tenant opens refused because the tenant's audit
	// chain in the store differs from its checkpoint.
	chainBreaks atomic.Uint64
	requests    [][6]atomic.Uint64 // by route, then status class 1xx-5xx (0: other)
}

func (m *metrics) init(routes int) { m.requests = make([][6]atomic.Uint64, routes) }

func (m *metrics) observeCheck(e agenttrust.Effect, err error, d time.Duration) {
	if int(e) < len(m.checks) {
		m.checks[e].Add(1)
	}
	if err != nil {
		m.checkErrors.Add(1)
	}
	sec := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && sec > latencyBuckets[i] {
		i++
	}
	m.buckets[i].Add(1)
	m.latencySum.Add(uint64(max(d, 0)))
}

func (m *metrics) request(route, status int) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	m.requests[route][class].Add(1)
}

// event tells the observer of WithObserver, if any, of e.
func (s *Server) event(ctx context.Context, e observe.Event) {
	if s.obs != nil {
		s.obs.Event(ctx, e)
	}
}

// storeError counts a request or check that failed for the store.
func (s *Server) storeError(ctx context.Context, tenant string) {
	s.metrics.storeErrors.Add(1)
	s.event(ctx, observe.Event{Kind: observe.StoreError, Tenant: tenant})
}

// observeRequest tells the observer of a request answered; route is ""
// for one no route matched.
func (s *Server) observeRequest(r *http.Request, route, tenant string, status int, start time.Time) {
	s.obs.Event(r.Context(), observe.Event{Kind: observe.HTTPRequest, Tenant: tenant, Route: route, Status: status, Duration: time.Since(start)})
}

// serveMetrics answers GET /metrics: with the handler of
// WithMetricsHandler, or in the Prometheus text format 0.0.4.
func (s *Server) serveMetrics(c *call) error {
	if s.metricsH != nil {
		c.w.Header().Set("Cache-Control", "no-store")
		sw := &statusWriter{ResponseWriter: c.w}
		s.metricsH.ServeHTTP(sw, c.r)
		c.status = cmp.Or(sw.status, http.StatusOK)
		return nil
	}
	m := &s.metrics
	b := make([]byte, 0, 4096)
	b = append(b, "# HELP agenttrust_checks_total Decisions made by POST /v1/actions/check, by effect.\n# TYPE agenttrust_checks_total counter\n"...)
	for e := agenttrust.Deny; e <= agenttrust.NeedsApproval; e++ {
		b = append(b, `agenttrust_checks_total{effect="`...)
		b = append(b, e.String()...)
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, m.checks[e].Load(), 10)
		b = append(b, '\n')
	}
	b = counter(b, "agenttrust_check_errors_total", "Checks that could not be made properly and denied (bad credential, store or audit down).", m.checkErrors.Load())

	b = append(b, "# HELP agenttrust_check_duration_seconds Time spent in Client.Check per request.\n# TYPE agenttrust_check_duration_seconds histogram\n"...)
	var cum uint64
	for i := range m.buckets {
		cum += m.buckets[i].Load()
		b = append(b, `agenttrust_check_duration_seconds_bucket{le="`...)
		if i < len(latencyBuckets) {
			b = strconv.AppendFloat(b, latencyBuckets[i], 'g', -1, 64)
		} else {
			b = append(b, "+Inf"...)
		}
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, cum, 10)
		b = append(b, '\n')
	}
	b = append(b, "agenttrust_check_duration_seconds_sum "...)
	b = strconv.AppendFloat(b, float64(m.latencySum.Load())/1e9, 'g', -1, 64)
	b = append(b, "\nagenttrust_check_duration_seconds_count "...)
	b = strconv.AppendUint(b, cum, 10)
	b = append(b, '\n')

	b = counter(b, "agenttrust_store_errors_total", "Requests and checks that failed because the store was unavailable.", m.storeErrors.Load())

	var depth int64
	unhealthy := 0
	ts := *s.tenants.Load()
	for _, t := range ts {
		st := t.client.Stats()
		depth += st.AuditQueued
		if !st.AuditHealthy {
			unhealthy++
		}
	}
	b = gauge(b, "agenttrust_audit_queue_depth", "Audit records waiting to be written, over every open tenant.", float64(depth))
	b = gauge(b, "agenttrust_audit_stuck_tenants", "Open tenants whose audit writes have been failing past the bound (their checks deny).", float64(unhealthy))
	b = gauge(b, "agenttrust_tenants_open", "Tenants with a Client open on this node.", float64(len(ts)))
	b = counter(b, "agenttrust_audit_chain_breaks_total", "Tenant opens refused because the tenant's audit chain in the store was cut or rewritten.", m.chainBreaks.Load())
	b = counter(b, "agenttrust_tenants_opened_total", "Tenant Clients opened on this node, again after an idle close included.", m.tenantsOpened.Load())
	b = counter(b, "agenttrust_tenants_idle_closed_total", "Tenant Clients closed for being idle (WithTenantIdle).", m.tenantsClosed.Load())

	b = append(b, "# HELP agenttrust_http_requests_total HTTP requests by route and status class.\n# TYPE agenttrust_http_requests_total counter\n"...)
	for i, rt := range s.routes {
		for class := range m.requests[i] {
			n := m.requests[i][class].Load()
			if n == 0 {
				continue
			}
			b = append(b, `agenttrust_http_requests_total{route="`...)
			b = append(b, rt.name()...)
			b = append(b, `",code="`...)
			if class == 0 {
				b = append(b, "other"...)
			} else {
				b = append(b, byte('0'+class), 'x', 'x')
			}
			b = append(b, `"} `...)
			b = strconv.AppendUint(b, n, 10)
			b = append(b, '\n')
		}
	}
	h := c.w.Header()
	h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	c.status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(b)
	return nil
}

func counter(b []byte, name, help string, v uint64) []byte {
	b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" counter\n"+name+" "...)
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\n')
}

func gauge(b []byte, name, help string, v float64) []byte {
	b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" gauge\n"+name+" "...)
	if math.IsNaN(v) {
		return append(b, "NaN\n"...)
	}
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	return append(b, '\n')
}
