package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackRefusalEchoesCredential: the HTTP middleware's 400 quoted
// the error of the body it could not read as attributes, and such an
// error quotes what the body held there: a JSON member named by a
// credential (an API key or token used as an attribute's name twice)
// came back whole in the refusal's message, which the
// service's gateway logs and a tool shows its model, though the audit
// trail redacts any credential in a request. The refusal must stay a
// 400 invalid_request, without the credential.
func TestAttackRefusalEchoesCredential(t *testing.T) {
	f := newHTTPFixture(t)
	other, _, err := f.c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "other"})
	if err != nil {
		t.Fatal(err)
	}
	h := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(t), Attributes: middleware.JSONBodyAttributes(1 << 12)})(serveMux(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	for name, cred := range map[string]string{"key": other, "token": f.token} {
		for _, tc := range []struct{ name, body string }{
			{"member named twice", `{"` + cred + `":1,"` + cred + `":2}`},
			{"member named twice, the second with an escape", `{"` + cred + `":1,"` + cred[:8] + fmt.Sprintf(`\u%04x`, cred[8]) + cred[9:] + `":2}`},
			{"nested member named twice", `{"a":{"` + cred + `":1,"` + cred + `":2}}`},
		} {
			t.Run(name+" "+tc.name, func(t *testing.T) {
				r := httptest.NewRequest("POST", "/v1/payments/cust-1", strings.NewReader(tc.body))
				r.Header.Set("Authorization", "Bearer "+f.token)
				r.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != 400 {
					t.Fatalf("status %d %s, want 400", rec.Code, rec.Body)
				}
				if det := decodeError(t, rec); det.Code != middleware.CodeInvalidRequest {
					t.Errorf("error %+v, want %s", det, middleware.CodeInvalidRequest)
				}
				if tail := cred[len(cred)-12:]; strings.Contains(rec.Body.String(), tail) {
					t.Errorf("the refusal holds the credential: %s", rec.Body)
				}
			})
		}
	}
}
