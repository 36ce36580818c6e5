package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAttackAuditTailStalls: "audit tail --follow" promises that a
// follower that loses the server says so on stderr and reconnects. A
// stream that goes silent without closing (a server stuck in a store
// read, a proxy holding the connection, a peer gone without a reset)
// left it waiting forever, printing nothing: the operator watches an
// empty screen believing nothing happens. The server sends a keepalive
// every 15 s, so nothing for that long plus --timeout means the stream
// is lost: the follower must say so and reconnect from its position.
func TestAttackAuditTailStalls(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stall func(w http.ResponseWriter, r *http.Request) // the first connection
	}{
		{"silent after a record", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			auditEvent(w, "pos-1", 1)
			<-r.Context().Done()
		}},
		{"no answer to the request", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var lastIDs []string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/audit/stream" {
					http.Error(w, `{"error":{"code":"not_found","message":"no"}}`, http.StatusNotFound)
					return
				}
				mu.Lock()
				lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
				n := len(lastIDs)
				mu.Unlock()
				if n == 1 {
					tc.stall(w, r)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				auditEvent(w, "pos-2", 2)
				<-r.Context().Done()
			}))
			t.Cleanup(ts.Close)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
			done := make(chan int, 1)
			go func() {
				done <- e.run(ctx, []string{"audit", "tail", "--follow", "-n", "0", "--json", "--server", ts.URL, "--key", "atk_test", "--timeout", "500ms"})
			}()
			deadline := time.After(30 * time.Second)
			for !strings.Contains(stdout.String(), `"seq":2`) {
				select {
				case code := <-done:
					t.Fatalf("exit %d: %s", code, stderr.String())
				case <-deadline:
					mu.Lock()
					n := len(lastIDs)
					mu.Unlock()
					cancel()
					t.Fatalf("after 30 s the follower still waits on a silent stream: %d connection(s), stdout %q, stderr %q", n, stdout.String(), stderr.String())
				case <-time.After(50 * time.Millisecond):
				}
			}
			cancel()
			<-done
			if !strings.Contains(stderr.String(), "nothing from the server") {
				t.Errorf("stderr does not say the stream was lost: %s", stderr.String())
			}
			mu.Lock()
			defer mu.Unlock()
			want := "pos-1"
			if strings.Contains(tc.name, "no answer") {
				want = ""
			}
			if len(lastIDs) < 2 || lastIDs[1] != want {
				t.Errorf("Last-Event-ID per connection %q, want the second from %q", lastIDs, want)
			}
		})
	}
}
