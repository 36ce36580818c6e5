package webhook_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/webhook"
)

// TestAttackWebhookRedirectFollowed: a receiver (or whoever answers for
// its URL) that redirects made the notifier send the approval elsewhere:
// net/http's default client follows up to ten redirects, to any host,
// with the signature and delivery headers, and for 307 and 308 the whole
// signed body (the approval's attributes among it). So a redirect aimed
// at an address only the server can reach (an admin port, a cloud
// metadata service) was posted to from inside, and the 2xx of wherever
// it landed was counted as delivered, though the receiver the operator
// named never took the notification. A redirect is an answer like any
// other: not followed, and the delivery fails.
func TestAttackWebhookRedirectFollowed(t *testing.T) {
	for _, status := range []int{
		http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
	} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var reached atomic.Int32
			inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached.Add(1)
			}))
			defer inside.Close()
			receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, inside.URL+"/admin/delete-everything", status)
			}))
			defer receiver.Close()

			var logs bytes.Buffer
			var mu sync.Mutex
			n, err := webhook.New(webhook.Config{URL: receiver.URL, Secret: secret, Backoff: time.Millisecond, MaxAttempts: 2,
				Logger: slog.New(slog.NewTextHandler(&lockedBuffer{b: &logs, mu: &mu}, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Notify(t.Context(), agenttrust.Approval{ID: "apr_1", Tenant: "acme", Tool: "t",
				Attributes: []byte(`{"amount":5}`), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the delivery to end", func() bool { s := n.Stats(); return s.Delivered+s.Failed == 1 })
			n.Close(t.Context())
			if got := reached.Load(); got != 0 {
				t.Errorf("the redirect target was sent %d requests", got)
			}
			if s := n.Stats(); s.Delivered != 0 || s.Failed != 1 {
				t.Errorf("a redirected notification counted as delivered: %+v", s)
			}
			mu.Lock()
			out := logs.String()
			mu.Unlock()
			if want := fmt.Sprintf("receiver answered %d", status); !strings.Contains(out, want) {
				t.Errorf("the failure does not say %q: %s", want, out)
			}
		})
	}
}
