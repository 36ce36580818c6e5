package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackArgumentsNotUTF8: JSON text is UTF-8, and "\ud800" (a lone
// surrogate) names no character. The API refuses both (400
// invalid_json); JSONAttributes read each as U+FFFD and had the check
// judge that, while the tool reading the same arguments in Python or
// JavaScript keeps the surrogate, and Python's file system calls turn
// "\udcff" into the byte 0xff: "a\udcfe.pdf" and "a\udcff.pdf" are two
// files the check (and an approver, shown "a\ufffd.pdf") took for one.
// Such arguments are refused before the checker is asked, as the API
// refuses them.
func TestAttackArgumentsNotUTF8(t *testing.T) {
	ctx := agenttrust.WithAgent(context.Background(), "bot", "")
	for _, tc := range []struct {
		name, args string
		refused    bool
	}{
		{"invalid byte in a value", "{\"path\":\"/srv/a\xff.pdf\"}", true},
		{"lone high surrogate", `{"path":"/srv/a\ud800.pdf"}`, true},
		{"lone low surrogate", `{"path":"/srv/a\udcff.pdf"}`, true},
		{"surrogates in reverse order", `{"path":"/srv/a\udc00\ud800.pdf"}`, true},
		{"high surrogate before a non-surrogate escape", `{"path":"/srv/a\ud800\u0041.pdf"}`, true},
		{"lone surrogate in a name", `{"p\udcffath":"/srv/a.pdf"}`, true},
		{"lone surrogate nested", `{"path":"/srv/a.pdf","to":[{"cc":"\udcff"}]}`, true},
		{"invalid byte in a name", "{\"p\xffath\":\"/srv/a.pdf\"}", true},
		// Controls: valid text, escaped or not.
		{"surrogate pair", `{"path":"/srv/\ud83d\ude00.pdf"}`, false},
		{"escaped BMP character", `{"path":"/srv/caf\u00e9.pdf"}`, false},
		{"raw UTF-8", `{"path":"/srv/café.pdf"}`, false},
		{"escaped backslash before u", `{"path":"/srv/a\\ud800.pdf"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			checker := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
				asked++
				return agenttrust.Decision{Effect: agenttrust.Allow, Reason: "allowed"}, nil
			})
			d, err := middleware.CheckToolCall(ctx, checker, "files.read", []byte(tc.args), middleware.ResourceKey("path"))
			_, jerr := middleware.JSONAttributes([]byte(tc.args))
			if !tc.refused {
				if err != nil {
					t.Fatalf("%v", err)
				}
				if jerr != nil {
					t.Fatalf("%v", jerr)
				}
				if d.Effect != agenttrust.Allow {
					t.Fatalf("got %v, want %v", d.Effect, agenttrust.Allow)
				}
				return
			}
			if !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Fatalf("err = %v, want %v; checked as %+v", err, agenttrust.ErrInvalidRequest, d)
			}
			if d.Effect != agenttrust.Deny {
				t.Fatalf("got %v, want %v", d.Effect, agenttrust.Deny)
			}
			if asked != 0 {
				t.Fatalf("the checker was asked")
			}
			if !errors.Is(jerr, agenttrust.ErrInvalidRequest) {
				t.Fatalf("err = %v, want %v", jerr, agenttrust.ErrInvalidRequest)
			}

			// The same body through the HTTP middleware.
			h := middleware.HTTP(checker, middleware.Options{
				Action:     func(*http.Request) (string, string, bool) { return "files.read", "", true },
				Attributes: middleware.JSONBodyAttributes(1 << 20),
			})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the handler ran") }))
			r := httptest.NewRequest("POST", "/read", strings.NewReader(tc.args))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer atk_anything")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r.WithContext(ctx))
			if w.Code != http.StatusBadRequest {
				t.Fatalf("got %v, want %v", w.Code, http.StatusBadRequest)
			}
		})
	}
}
