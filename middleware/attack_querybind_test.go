package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackBodyBoundFromQuery: a binder that picks by the declared media
// type, as gin's ShouldBind does, reads a JSON body only when the type is
// exactly "application/json" (compared as sent, case and all); for any
// other type, or none, it binds the form, which for a body that is not a
// form is the query string. JSONBodyAttributes read the body as JSON
// whatever the type, so POST ...?amount=1000000 with {"amount":1} and no
// Content-Type, "Application/JSON" or a +json type was checked as a
// charge of 1 and bound as one of 1000000. A body is now read only when
// declared exactly as application/json; anything else is refused (400).
func TestAttackBodyBoundFromQuery(t *testing.T) {
	f := newHTTPFixture(t)
	var charged atomic.Int64
	var runs atomic.Int32
	// bind binds as gin's ShouldBind: JSON for "application/json" exactly
	// (parameters stripped), the form (here, the query) otherwise.
	bind := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		var amount int64
		if strings.TrimSpace(ct) == "application/json" {
			var in struct{ Amount int64 }
			json.NewDecoder(r.Body).Decode(&in)
			amount = in.Amount
		} else {
			r.ParseForm()
			amount, _ = strconv.ParseInt(r.Form.Get("amount"), 10, 64)
		}
		charged.Store(amount)
	})
	h := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(t), Attributes: middleware.JSONBodyAttributes(512)})(serveMux(bind))
	send := func(ct []string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/payments/cust-1?amount=1000000", strings.NewReader(`{"amount":1}`))
		r.Header.Set("Authorization", "Bearer "+f.token)
		if ct != nil {
			r.Header["Content-Type"] = ct
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for name, ct := range map[string][]string{
		"none":           nil,
		"case variant":   {"Application/JSON"},
		"+json":          {"application/merge-patch+json"},
		"form-ish +json": {"application/x-www-form-urlencoded+json"},
		"two":            {"application/json", "application/json"},
	} {
		t.Run(name, func(t *testing.T) {
			runs.Store(0)
			charged.Store(0)
			if rec := send(ct); rec.Code != 400 || runs.Load() != 0 {
				t.Fatalf("status %d, handler ran %d times and charged %d; want 400 before the handler", rec.Code, runs.Load(), charged.Load())
			}
		})
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"} {
		t.Run("control "+ct, func(t *testing.T) {
			runs.Store(0)
			charged.Store(0)
			if rec := send([]string{ct}); rec.Code != 200 || runs.Load() != 1 || charged.Load() != 1 {
				t.Fatalf("status %d %s, handler ran %d times and charged %d; want 200 and a charge of 1", rec.Code, rec.Body, runs.Load(), charged.Load())
			}
		})
	}
}
