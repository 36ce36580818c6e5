package server

import (
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// TestAttackSlowConsoleBody: the body timeout bounded the API's routes
// and the unknown ones, but the console (WithConsole, which agenttrust
// serve mounts by default) was handed requests as they came: a stranger
// posting the sign-in form, or any form under /ui/, one byte at a time or
// never to its end held a connection and a goroutine for as long as it
// kept sending, however many it opened, where SECURITY.md promises an
// answer once the body timeout passes "whether or not the request was
// authenticated or routed". A request to the console with a body now has
// until the body timeout for it too; a console page or stream without
// one runs as long as it needs.
func TestAttackSlowConsoleBody(t *testing.T) {
	// What the console does with a form: read it, at most 16 KiB.
	mount := WithConsole(func(http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				time.Sleep(time.Second) // a page or a live stream that takes its time
				w.WriteHeader(http.StatusOK)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusOK)
		}), nil
	})
	cases := []struct {
		name, method, path string
		chunked            bool
		send               func(net.Conn, <-chan struct{})
	}{
		{"sign-in form one byte then silence", "POST", "/ui/login", false, oneByte},
		{"sign-in form one byte per tick", "POST", "/ui/login", false, trickle},
		{"sign-in form chunked, never ends", "POST", "/ui/login", true, func(c net.Conn, stop <-chan struct{}) {
			oneChunk(c, stop)
			trickleChunks(c, stop)
		}},
		{"approve form one byte per tick", "POST", "/ui/approvals/approve", false, trickle},
		{"console redirect with a body one byte per tick", "GET", "/ui", false, trickle},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newBubbleEnv(t, mount, WithBodyTimeout(100*time.Millisecond))
				res, body := slowClient(t, e, slowHead(tc.method, tc.path, "application/x-www-form-urlencoded", tc.chunked), tc.send)
				if res.StatusCode == http.StatusOK || tc.method == "GET" && res.StatusCode != http.StatusMovedPermanently {
					t.Errorf("status 200 for a body that never arrived: %s", body)
				}
			})
		})
	}
	t.Run("console page without a body outlives the body timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newBubbleEnv(t, mount, WithBodyTimeout(100*time.Millisecond))
			start := time.Now()
			res, body := slowClient(t, e, "GET /ui/events/approvals HTTP/1.1\r\nHost: x\r\n\r\n", func(net.Conn, <-chan struct{}) {})
			if res.StatusCode != http.StatusOK || time.Since(start) < time.Second {
				t.Errorf("status %d after %s: %s", res.StatusCode, time.Since(start), body)
			}
		})
	})
}
