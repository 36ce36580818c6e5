package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/internal/wire"
)

// A handler that panics, at any point, lets go of its tenant, and is
// answered with a 500 "internal" while its response has not begun; the
// panic goes to the log, without the caller's credential.
func TestAttackServerHandlerPanic(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	bot := e.key("acme/bot")
	for _, tc := range []struct {
		name    string
		handle  func(*Server, *call) error
		status  int  // of the response, when one is sent
		aborted bool // the connection is dropped (the panic goes on)
		logged  string
	}{
		{"panic_string", func(*Server, *call) error { panic("handler bug") }, 500, false, "handler bug"},
		{"panic_error", func(*Server, *call) error { panic(errors.New("handler broke")) }, 500, false, "handler broke"},
		{"panic_nil", func(*Server, *call) error { panic(nil) }, 500, false, "nil"},
		{"panic_runtime_error", func(*Server, *call) error {
			var m map[string]int
			m["x"]++
			return nil
		}, 500, false, "nil map"},
		{"panic_with_bearer", func(_ *Server, c *call) error { panic("bad " + c.bearer) }, 500, false, "withheld"},
		{"panic_after_response_began", func(_ *Server, c *call) error {
			writeJSON(c, http.StatusOK, map[string]string{"partial": "yes"})
			panic("handler bug late")
		}, 200, true, "handler bug late"},
		{"panic_abort_handler", func(*Server, *call) error { panic(http.ErrAbortHandler) }, 0, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			h := e.srv.handler(0, &route{method: "GET", path: "/v1/panic", access: authed, handle: tc.handle})
			r := httptest.NewRequest("GET", "/v1/panic", nil)
			r.Header.Set("Authorization", "Bearer "+bot)
			w := httptest.NewRecorder()
			p := func() (p any) {
				defer func() { p = recover() }()
				h.ServeHTTP(w, r)
				return nil
			}()
			if tc.aborted != (p == http.ErrAbortHandler) || !tc.aborted && p != nil {
				t.Errorf("panic out of the handler: %v, want abort %v", p, tc.aborted)
			}
			if tc.status != 0 && w.Code != tc.status {
				t.Errorf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status == 500 {
				var body wire.ErrorBody
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "internal" {
					t.Errorf("body %s (%v), want error code internal", w.Body, err)
				}
				if strings.Contains(w.Body.String(), "bug") || strings.Contains(w.Body.String(), "broke") {
					t.Errorf("the panic reached the caller: %s", w.Body)
				}
			}
			if tn := (*e.srv.tenants.Load())["acme"]; tn == nil || tn.active.Load() != 0 {
				t.Errorf("tenant hold not released: %v", tn.active.Load())
			}
			if !strings.Contains(logs.String(), tc.logged) || strings.Contains(logs.String(), bot) {
				t.Errorf("log %q: want %q, and never the bearer", logs.String(), tc.logged)
			}
			if tc.logged == "" && logs.Len() != 0 {
				t.Errorf("an abort was logged: %s", logs.String())
			}
		})
	}
	// The node goes on serving.
	e.must(200, "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
}
