package server

import (
	"fmt"
	"net/http"

	"github.com/agenttrust/agenttrust"
)

// ConsolePath is where WithConsole mounts the web console.
const ConsolePath = "/ui/"

// WithConsole mounts a web console (package console) at ConsolePath.
// mount is called once by New with the server's own API handler, which
// the console calls in process with the signed-in person's key: every
// action it offers is authenticated and authorized by the API exactly as
// a direct call would be. A request for "/ui" is redirected to "/ui/".
// A request to the console with a body (a form) has until the body
// timeout (WithBodyTimeout) for it, as one to the API has.
func WithConsole(mount func(api http.Handler) (http.Handler, error)) Option {
	return func(s *Server) error {
		if mount == nil {
			return fmt.Errorf("%w: nil console mount", agenttrust.ErrInvalidConfig)
		}
		s.console = mount
		return nil
	}
}

// mountConsole registers the console's handler, when configured.
func (s *Server) mountConsole() error {
	if s.console == nil {
		return nil
	}
	h, err := s.console(s)
	if err != nil {
		return fmt.Errorf("%w: console: %w", agenttrust.ErrInvalidConfig, err)
	}
	if h == nil {
		return fmt.Errorf("%w: console mount returned no handler", agenttrust.ErrInvalidConfig)
	}
	s.mux.Handle(ConsolePath, s.bodyBound(h))
	s.mux.Handle("GET /ui", s.bodyBound(http.RedirectHandler(ConsolePath, http.StatusMovedPermanently)))
	return nil
}

// bodyBound gives a request to h that has a body until the body timeout
// for it, as serve does for the API's routes: a form sent slowly, or
// never ended, must not hold the connection for ever (net/http also
// reads what a handler left of a body). A page or a live stream takes no
// body and is not cut.
func (s *Server) bodyBound(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasBody(r) {
			s.boundBody(w, r)
		}
		h.ServeHTTP(w, r)
	})
}
