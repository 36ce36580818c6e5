package server

import (
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// TestAttackSlowBodyMuxRedirect: the body timeout was given by the API's
// handler, the unknown-path handler and the console's mount, but a
// request the server's mux answers itself never reaches any of them: a
// path that is not clean ("/v1//actions/check", "/ui/x/../login") or
// "/ui" asked with another method than GET, which the mux redirects. To
// write its redirect, net/http first reads what is left of the body, up
// to 256 KiB, with no deadline: a stranger sending that body one byte at
// a time, or never, held a connection and a goroutine for as long as it
// liked, without a credential. Every request with a body now has until
// the body timeout for it, whoever answers it.
func TestAttackSlowBodyMuxRedirect(t *testing.T) {
	mount := WithConsole(func(http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }), nil
	})
	cases := []struct {
		name, method, path string
		chunked            bool
		send               func(net.Conn, <-chan struct{})
	}{
		{"API path not clean, one byte then silence", "POST", "/v1//actions/check", false, oneByte},
		{"API path not clean, one byte per tick", "POST", "/v1/actions/./check", false, trickle},
		{"API path not clean, chunked, never ends", "PUT", "/v1/x/../policy", true, func(c net.Conn, stop <-chan struct{}) {
			oneChunk(c, stop)
			trickleChunks(c, stop)
		}},
		{"console path not clean, one byte per tick", "POST", "/ui/x/../login", false, trickle},
		{"console root posted, one byte then silence", "POST", "/ui", false, oneByte},
		{"unknown path not clean, one byte per tick", "POST", "//nothing", false, trickle},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newBubbleEnv(t, mount, WithBodyTimeout(100*time.Millisecond))
				res, body := slowClient(t, e, slowHead(tc.method, tc.path, "application/json", tc.chunked), tc.send)
				if res.StatusCode == http.StatusOK {
					t.Errorf("status 200 for a body that never arrived: %s", body)
				}
			})
		})
	}
	t.Run("control: a redirect whose body arrived", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newBubbleEnv(t, mount, WithBodyTimeout(100*time.Millisecond))
			res, _ := slowClient(t, e, "POST /v1//actions/check HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", func(net.Conn, <-chan struct{}) {})
			if res.StatusCode/100 != 3 {
				t.Errorf("status %d, want a redirect", res.StatusCode)
			}
		})
	})
}
