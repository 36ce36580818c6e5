package middleware_test

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackBodyContentType: JSONBodyAttributes reads a body as JSON, but
// a handler that binds the body by its declared media type (gin's
// ShouldBind, echo's Bind, net/http's ParseForm) reads a form body as a
// form. {"amount":1,"x":"&amount=1000000&"} is a JSON object with amount
// 1 and a form with amount=1000000: the policy would allow a charge of 1
// and the handler make one of 1000000. A body declared as anything but
// JSON is refused (400) and the handler never runs; JSON is checked as
// before (and an undeclared body is refused too, see
// TestAttackBodyBoundFromQuery).
func TestAttackBodyContentType(t *testing.T) {
	f := newHTTPFixture(t)
	var charged atomic.Int64
	var runs atomic.Int32
	// bind reads the amount as a binder does: by the declared media type.
	bind := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var amount int64
		switch mt {
		case "application/x-www-form-urlencoded", "multipart/form-data":
			if err := r.ParseMultipartForm(1 << 10); err != nil && err != http.ErrNotMultipart {
				http.Error(w, err.Error(), 400)
				return
			}
			amount, _ = strconv.ParseInt(r.PostForm.Get("amount"), 10, 64)
		default:
			var in struct{ Amount int64 }
			json.NewDecoder(r.Body).Decode(&in)
			amount = in.Amount
		}
		charged.Store(amount)
	})
	h := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(t), Attributes: middleware.JSONBodyAttributes(512)})(serveMux(bind))
	const body = `{"amount":1,"x":"&amount=1000000&"}`
	send := func(ct string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/payments/cust-1", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+f.token)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for _, ct := range []string{
		"application/x-www-form-urlencoded",
		"application/x-www-form-urlencoded; charset=utf-8",
		"Application/X-WWW-Form-URLEncoded",
		"multipart/form-data; boundary=x",
		"text/plain",
	} {
		t.Run(ct, func(t *testing.T) {
			runs.Store(0)
			charged.Store(0)
			rec := send(ct)
			if rec.Code != 400 || runs.Load() != 0 {
				t.Fatalf("status %d %s, handler ran %d times and charged %d; want 400 before the handler", rec.Code, rec.Body, runs.Load(), charged.Load())
			}
			if det := decodeError(t, rec); det.Code != middleware.CodeInvalidRequest {
				t.Errorf("error %+v, want %s", det, middleware.CodeInvalidRequest)
			}
		})
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8"} {
		t.Run("control "+ct, func(t *testing.T) {
			runs.Store(0)
			charged.Store(0)
			if rec := send(ct); rec.Code != 200 || runs.Load() != 1 || charged.Load() != 1 {
				t.Fatalf("status %d %s, handler ran %d times and charged %d; want 200 and a charge of 1", rec.Code, rec.Body, runs.Load(), charged.Load())
			}
		})
	}
}
