package webhook

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"
)

// TestClientTimeoutBounded: the one delivery goroutine never waits on a
// receiver without bound, whatever client it is given; a client's own
// timeout and redirect policy are kept, and the caller's client is not
// changed.
func TestClientTimeoutBounded(t *testing.T) {
	keep := func(*http.Request, []*http.Request) error { return nil }
	for _, tc := range []struct {
		name     string
		client   *http.Client
		want     time.Duration
		redirect bool // the client's own CheckRedirect kept
	}{
		{"default client", nil, DefaultTimeout, false},
		{"client without timeout", &http.Client{}, DefaultTimeout, false},
		{"client with its own timeout", &http.Client{Timeout: 3 * time.Second}, 3 * time.Second, false},
		{"client with a redirect policy, no timeout", &http.Client{CheckRedirect: keep}, DefaultTimeout, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before http.Client
			if tc.client != nil {
				before = *tc.client
			}
			n, err := New(Config{URL: "http://127.0.0.1:1/hook", Secret: bytes.Repeat([]byte("s"), MinSecretLen), Client: tc.client})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close(context.Background())
			if got := n.cfg.Client.Timeout; got != tc.want {
				t.Fatalf("delivery timeout %v, want %v", got, tc.want)
			}
			if n.cfg.Client.CheckRedirect == nil {
				t.Fatal("no redirect policy")
			}
			if err := n.cfg.Client.CheckRedirect(nil, nil); (err == nil) != tc.redirect {
				t.Fatalf("redirect policy answers %v; the client's own kept: %v", err, tc.redirect)
			}
			if tc.client != nil && (tc.client.Timeout != before.Timeout || (tc.client.CheckRedirect == nil) != (before.CheckRedirect == nil)) {
				t.Fatal("New changed the caller's client")
			}
		})
	}
}
