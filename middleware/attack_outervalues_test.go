package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackRoutesOuterMuxPathValues: r.Pattern and r.PathValue are set by
// whichever mux routed the request to the middleware, which need not be
// the mux that serves it. Routes checks that its own match agrees with
// r.Pattern, but then built the resource from r.PathValue: the values the
// mux in front found, on the path as it was then. A handler between the
// two that changes the path (http.StripPrefix mounting a file server) left
// the same pattern matching with other values, so GET /public/secret.txt
// was checked as file:public/secret.txt (allowed) and served secret.txt,
// which no rule allows. The resource is built from the path the
// middleware sees, which is the one the mux behind it serves.
func TestAttackRoutesOuterMuxPathValues(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: public-files
    effect: allow
    agents: [billing-bot]
    tools: [files.read]
    resources: ["file:public/*"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	action, err := middleware.Routes(middleware.Route{Pattern: "GET /{path...}", Tool: "files.read", Resource: "file:{path}"})
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	files := http.NewServeMux()
	files.HandleFunc("GET /{path...}", func(w http.ResponseWriter, r *http.Request) { served = append(served, r.PathValue("path")) })
	mw := middleware.HTTP(c, middleware.Options{Action: action})

	for _, tc := range []struct {
		name  string
		mount func(h http.Handler) http.Handler
	}{
		{"a mux in front, then StripPrefix", func(h http.Handler) http.Handler {
			site := http.NewServeMux()
			site.Handle("GET /{path...}", http.StripPrefix("/public", h))
			return site
		}},
		{"a mux in front, then a path rewrite", func(h http.Handler) http.Handler {
			site := http.NewServeMux()
			site.Handle("GET /{path...}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r2 := r.Clone(r.Context())
				r2.URL.Path, r2.URL.RawPath = r.URL.Path[len("/public"):], ""
				h.ServeHTTP(w, r2)
			}))
			return site
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served = nil
			h := tc.mount(mw(files))
			r := httptest.NewRequest("GET", "/public/secret.txt", nil)
			r.Header.Set("Authorization", "Bearer "+key)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if len(served) != 0 {
				t.Fatalf("status %d: served %q, checked as file:public/secret.txt", rec.Code, served)
			}
			// Control: a file under public is served.
			r = httptest.NewRequest("GET", "/public/public/a.txt", nil)
			r.Header.Set("Authorization", "Bearer "+key)
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 200 || len(served) != 1 || served[0] != "public/a.txt" {
				t.Fatalf("control: status %d %s, served %q", rec.Code, rec.Body, served)
			}
		})
	}
}
