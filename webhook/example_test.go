package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/webhook"
)

// A notifier for every pending approval of a Client, and a receiver that
// checks the signature before it believes a word.
func ExampleVerify() {
	secret := []byte("a shared secret of at least 32 bytes, from a file")
	got := make(chan webhook.Payload, 1)
	receive := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
		got <- p
	}
	ts := httptest.NewServer(http.HandlerFunc(receive))
	defer ts.Close()

	hook, err := webhook.New(webhook.Config{URL: ts.URL, Secret: secret, ConsoleURL: "https://agenttrust.example"})
	if err != nil {
		log.Fatal(err)
	}
	defer hook.Close(context.Background())
	// agenttrust.WithNotifier(hook.Notify) gives it to a Client; here, by hand:
	hook.Notify(context.Background(), agenttrust.Approval{ID: "apr_1", Tenant: "acme", AgentID: "billing-bot",
		Tool: "payments.charge", Rule: "pay", ExpiresAt: time.Date(2026, 12, 6, 3, 15, 0, 0, time.UTC)})
	p := <-got
	fmt.Println(p.URL)
	fmt.Println(p.Text)
	// Output:
	// https://agenttrust.example/ui/approvals#apr_1
	// Approval needed: billing-bot asks to run payments.charge (rule pay). Decide by 03:15 UTC: <https://agenttrust.example/ui/approvals#apr_1|open in the console>.
}
