package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// BenchmarkMiddlewareHTTP compares a trivial handler behind HTTP with the
// same handler called directly after one Check of the same request: the
// difference is what the middleware itself costs (credential extraction,
// route matching, client address, context values, the request copy).
// Compare the two sub-benchmarks of one run.
func BenchmarkMiddlewareHTTP(b *testing.B) {
	f := newHTTPFixture(b)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	r := httptest.NewRequest("GET", "/v1/payments/cust-1", nil)
	r.Header.Set("Authorization", "Bearer "+f.token)

	ctx := context.Background()
	req := agenttrust.Request{
		Tool: "payments.read", Resource: "/v1/payments/cust-1", Credential: f.token,
		RemoteAddr: netip.MustParseAddr("192.0.2.1"),
	}
	direct := func() {
		d, err := f.c.Check(ctx, req)
		if err != nil || !d.Allowed() {
			b.Fatal(d, err)
		}
		handler.ServeHTTP(httptest.NewRecorder(), r)
	}
	h := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(b)})(handler)
	behind := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body)
		}
	}

	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			direct()
		}
	})
	b.Run("middleware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			behind()
		}
	})
	// paired alternates the two in blocks, so that whatever else the
	// machine is doing slows both alike, and reports middleware/direct
	// time as "ratio". ns/op counts one of each.
	b.Run("paired", func(b *testing.B) {
		const block = 64
		var tDirect, tBehind time.Duration
		for b.Loop() {
			start := time.Now()
			for range block {
				direct()
			}
			mid := time.Now()
			for range block {
				behind()
			}
			tDirect += mid.Sub(start)
			tBehind += time.Since(mid)
		}
		b.ReportMetric(float64(tBehind)/float64(tDirect), "ratio")
	})
}
