package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackResourceCheckedInAnotherForm: Check judges a resource in
// Unicode NFC, while the tool or handler behind the middleware serves the
// text it was given. "docs/cafe\u0301.txt" (NFD) is judged as
// "docs/caf\u00e9.txt", a rule allows exactly that file, and the tool
// opens the NFD name, another file on a file system that tells the two
// apart (Linux's): the check judged one name and the tool served
// another. The middleware refuses a resource that is not in NFC; the
// NFC spelling is decided as before.
func TestAttackResourceCheckedInAnotherForm(t *testing.T) {
	const nfc, nfd = "docs/caf\u00e9.txt", "docs/cafe\u0301.txt"
	c := caseClient(t, []agenttrust.Rule{
		{ID: "this-file", Effect: agenttrust.Allow, Tools: []string{"files.read"}, Resources: []string{nfc}},
	})
	ctx := agenttrust.WithAgent(context.Background(), "bot", "")
	type in struct {
		Path string `agenttrust:"resource"`
	}
	guarded := middleware.Guard(c, "files.read", func(ctx context.Context, in in) (string, error) { return in.Path, nil })
	guardedFn := middleware.Guard(c, "files.read", func(ctx context.Context, p string) (string, error) { return p, nil },
		middleware.Resource(func(p string) string { return p }))

	routes, err := middleware.Routes(middleware.Route{Pattern: "GET /files/{path...}", Tool: "files.read", Resource: "{path}"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	served := ""
	h := middleware.HTTP(c, middleware.Options{Action: routes})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served = r.PathValue("path")
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /files/{path...}", h)
	httpGet := func(path string) (int, string) {
		served = ""
		r := httptest.NewRequest("GET", "/files/"+url.PathEscape(path), nil)
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code, served
	}

	for _, tc := range []struct {
		name  string
		path  string
		allow bool
	}{
		{"NFD", nfd, false},
		{"control: NFC", nfc, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := middleware.CheckToolCall(ctx, c, "files.read", []byte(`{"path":"`+tc.path+`"}`), middleware.ResourceKey("path"))
			if d.Allowed() != tc.allow || (!tc.allow && !errors.Is(err, agenttrust.ErrInvalidRequest)) {
				t.Errorf("CheckToolCall: %v, %v; want allowed %v (refusals matching ErrInvalidRequest)", d.Effect, err, tc.allow)
			}
			if got, err := guarded(ctx, in{Path: tc.path}); (err == nil) != tc.allow || (tc.allow && got != tc.path) {
				t.Errorf("Guard (tagged field) served %q, %v; want allowed %v", got, err, tc.allow)
			}
			if got, err := guardedFn(ctx, tc.path); (err == nil) != tc.allow || (tc.allow && got != tc.path) {
				t.Errorf("Guard (Resource option) served %q, %v; want allowed %v", got, err, tc.allow)
			}
			code, got := httpGet(tc.path)
			if (code == http.StatusOK) != tc.allow || (tc.allow && got != tc.path) {
				t.Errorf("HTTP: status %d, served %q; want allowed %v", code, got, tc.allow)
			}
		})
	}
}
