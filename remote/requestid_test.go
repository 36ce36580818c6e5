package remote_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/store"
)

// TestErrorRequestID: an error answer's X-Request-Id, which names the
// request in the server's log, reaches the Error when it looks like one.
func TestErrorRequestID(t *testing.T) {
	for _, tc := range []struct {
		name, id, want string
		status         int
		body           string
	}{
		{"server error form", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", 403, `{"error":{"code":"forbidden","message":"no"}}`},
		{"503", "req-7", "req-7", 503, `{"error":{"code":"store_unavailable","message":"down"}}`},
		{"not the server's form", "req-8", "req-8", 502, `<html>bad gateway</html>`},
		{"hostile id", "a\x1b[31mred", "", 403, `{"error":{"code":"forbidden","message":"no"}}`},
		{"too long", strings.Repeat("a", 129), "", 403, `{"error":{"code":"forbidden","message":"no"}}`},
		{"none", "", "", 403, `{"error":{"code":"forbidden","message":"no"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.mux.HandleFunc("GET /v1/keys", func(w http.ResponseWriter, r *http.Request) {
				if tc.id != "" {
					w.Header()["X-Request-Id"] = []string{tc.id}
				}
				if strings.HasPrefix(tc.body, "{") {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			_, err := f.client(remote.WithRetries(0)).ListKeys(context.Background())
			var re *remote.Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a *remote.Error", err)
			}
			if re.RequestID != tc.want {
				t.Errorf("RequestID %q, want %q", re.RequestID, tc.want)
			}
		})
	}
}

// TestCheckRequestID: Request.RequestID travels as X-Request-Id and the
// server records it with the decision; one a local Check would refuse is
// refused without asking.
func TestCheckRequestID(t *testing.T) {
	d := deploy(t)
	ctx := t.Context()
	bot, alice := d.client(t, "bot"), d.client(t, "alice")
	dec, err := bot.Check(ctx, agenttrust.Request{Tool: "docs.read", RequestID: "abc-123"})
	if err != nil || !dec.Allowed() {
		t.Fatalf("Check = %+v, %v", dec, err)
	}
	acme, err := d.srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := acme.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	recs, _, err := alice.QueryAudit(ctx, store.AuditQuery{DecisionID: dec.ID})
	if err != nil || len(recs) != 1 || recs[0].RequestID != "abc-123" {
		t.Fatalf("audit of the check = %+v, %v; want request_id abc-123", recs, err)
	}

	for _, id := range []string{"a b", "a\nb", strings.Repeat("r", 129), "ré"} {
		dec, err := bot.Check(ctx, agenttrust.Request{Tool: "docs.read", RequestID: id})
		if dec.Allowed() || !errors.Is(err, agenttrust.ErrInvalidRequest) {
			t.Errorf("Check with request id %q = %+v, %v; want ErrInvalidRequest", id, dec, err)
		}
	}
}
