package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackRoutesOuterMuxPattern: r.Pattern is the pattern of whichever
// mux routed the request to the middleware, which need not be the mux
// the middleware guards. Mounted as http.Handle("/", mw(api)), every
// request arrives with r.Pattern "/"; when the route table also maps "/"
// (a catch-all page everyone may read), taking that pattern as the match
// checked POST /v1/payments/cust-1 as "site.page" while api served it as
// payments.charge. A request is mapped to a route only when the table's
// own match agrees with the pattern that routed it: here the API refuses
// (403) rather than guess which mux serves, the catch-all still works,
// and a route wrapped in place (TestRoutesBehindMux) is mapped as before.
func TestAttackRoutesOuterMuxPattern(t *testing.T) {
	f := newHTTPFixture(t)
	action, err := middleware.Routes(
		middleware.Route{Pattern: "/", Tool: "payments.read"}, // the catch-all: readable by billing-bot
		middleware.Route{Pattern: "POST /v1/payments/{customer}", Tool: "payments.charge", Resource: "payment:{customer}"},
	)
	if err != nil {
		t.Fatal(err)
	}
	var charged, pages atomic.Int32
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/payments/{customer}", func(w http.ResponseWriter, r *http.Request) { charged.Add(1) })
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { pages.Add(1) })
	outer := http.NewServeMux()
	outer.Handle("/", middleware.HTTP(f.c, middleware.Options{Action: action, Attributes: middleware.JSONBodyAttributes(512)})(api))

	send := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+f.token)
		rec := httptest.NewRecorder()
		outer.ServeHTTP(rec, r)
		return rec
	}
	// 1000000 needs a person's approval (big-charges); {} has no amount,
	// which no rule can allow.
	for _, body := range []string{`{"amount":1000000}`, `{}`} {
		t.Run(body, func(t *testing.T) {
			charged.Store(0)
			rec := send("POST", "/v1/payments/cust-1", body)
			if charged.Load() != 0 || rec.Code == 200 {
				t.Fatalf("status %d %s: the charge ran %d times, checked as another route", rec.Code, rec.Body, charged.Load())
			}
		})
	}
	t.Run("small charge, served by the other mux", func(t *testing.T) {
		charged.Store(0)
		if rec := send("POST", "/v1/payments/cust-1", `{"amount":5}`); rec.Code != 403 || charged.Load() != 0 {
			t.Fatalf("status %d %s, charged %d; want 403: which mux serves is ambiguous", rec.Code, rec.Body, charged.Load())
		}
	})
	t.Run("control, the same routes without a mux in front", func(t *testing.T) {
		charged.Store(0)
		h := middleware.HTTP(f.c, middleware.Options{Action: action, Attributes: middleware.JSONBodyAttributes(512)})(api)
		r := httptest.NewRequest("POST", "/v1/payments/cust-1", strings.NewReader(`{"amount":5}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+f.token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 200 || charged.Load() != 1 {
			t.Fatalf("status %d %s, charged %d", rec.Code, rec.Body, charged.Load())
		}
	})
	t.Run("control, the catch-all", func(t *testing.T) {
		pages.Store(0)
		if rec := send("GET", "/about", ""); rec.Code != 200 || pages.Load() != 1 {
			t.Fatalf("status %d %s, pages %d", rec.Code, rec.Body, pages.Load())
		}
	})
}
