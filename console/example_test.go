package console_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/agenttrust/agenttrust/console"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// The console mounted on a server: it calls the server's API in process,
// with the key of the person signed in.
func ExampleNew() {
	st := memory.New()
	srv, err := server.New(st, server.WithConsole(func(api http.Handler) (http.Handler, error) {
		c, err := console.New(console.Config{API: api, Store: st})
		if err != nil {
			return nil, err
		}
		return c, nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/login", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Security-Policy") != "")
	// Output: 200 true
}
