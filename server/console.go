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
	s.mux.Handle(ConsolePath, h)
	s.mux.Handle("GET /ui", http.RedirectHandler(ConsolePath, http.StatusMovedPermanently))
	return nil
}
