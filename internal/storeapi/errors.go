package storeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// prefix starts every error message of the package.
const prefix = "agenttrust/storeapi:"

// Error codes of the store API, one per store sentinel and context error,
// plus the codes of failures of the API itself.
const (
	CodeNotFound         = "not_found"          // 404, store.ErrNotFound
	CodeConflict         = "conflict"           // 409, store.ErrConflict
	CodeInvalid          = "invalid"            // 400, store.ErrInvalid (and a malformed request)
	CodeCorrupt          = "corrupt"            // 500, store.ErrCorrupt (message withheld)
	CodeUnevaluable      = "unevaluable"        // 400, agenttrust.ErrUnevaluable (evaluate)
	CodeInvalidRequest   = "invalid_request"    // 400, agenttrust.ErrInvalidRequest (evaluate)
	CodeClosed           = "closed"             // 503, store.ErrClosed of the server's store
	CodeUnavailable      = "unavailable"        // 503, store.ErrUnavailable
	CodeCanceled         = "canceled"           // 499, context.Canceled
	CodeDeadlineExceeded = "deadline_exceeded"  // 504, context.DeadlineExceeded
	CodeInternal         = "internal"           // 500, any other error (message withheld)
	CodeUnknownRoute     = "unknown_route"      // 404, no such route
	CodeMethod           = "method_not_allowed" // 405, not a POST
	CodeMediaType        = "unsupported_media"  // 415, not application/json
	CodeTooLarge         = "too_large"          // 413, request body over MaxBodySize
)

// StatusClientClosedRequest is the status of a request whose caller went
// away before the store answered (nginx's 499).
const StatusClientClosedRequest = 499

// Error is a failure the client could not turn into a result: an error
// answer of the store API, or an answer that did not come from it (an
// authenticating proxy's 401, a gateway's 502). It wraps the store sentinel
// it maps to, so callers test errors.Is(err, store.ErrNotFound) and the like.
type Error struct {
	Op      string // route, such as "revoke"
	Status  int    // HTTP status; 0 when no response arrived
	Code    string // error code, when the store API answered
	Message string
	err     []error // what errors.Is matches
}

func (e *Error) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("%s %s: %s", prefix, e.Op, e.Message)
	case e.Code == "":
		return fmt.Sprintf("%s %s: HTTP %d: %s", prefix, e.Op, e.Status, e.Message)
	}
	return fmt.Sprintf("%s %s: %s (%s, HTTP %d)", prefix, e.Op, e.Message, e.Code, e.Status)
}

// Unwrap returns the sentinels the error matches.
func (e *Error) Unwrap() []error { return e.err }

// codeOf classifies an error of the store for the wire. The store
// sentinels come first: a store may wrap a context error in ErrUnavailable.
func codeOf(err error) (code string, status int) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return CodeNotFound, http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return CodeConflict, http.StatusConflict
	case errors.Is(err, store.ErrInvalid):
		return CodeInvalid, http.StatusBadRequest
	case errors.Is(err, store.ErrCorrupt):
		// A row edited behind the store's back is a broken audit chain
		// to the caller's verification, not an outage to retry.
		return CodeCorrupt, http.StatusInternalServerError
	case errors.Is(err, agenttrust.ErrUnevaluable):
		// The evaluate route: a deny the request brought on itself (a
		// condition it made unevaluable, a declared type it broke), which
		// the asking client's breaker counts, not the engine failing.
		return CodeUnevaluable, http.StatusBadRequest
	case errors.Is(err, agenttrust.ErrInvalidRequest):
		return CodeInvalidRequest, http.StatusBadRequest
	case errors.Is(err, store.ErrClosed):
		return CodeClosed, http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded, http.StatusGatewayTimeout
	case errors.Is(err, store.ErrUnavailable):
		return CodeUnavailable, http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return CodeCanceled, StatusClientClosedRequest
	}
	return CodeInternal, http.StatusInternalServerError
}

// sentinelsOf is the client's side of codeOf: what an error answer matches.
// Every failure of the server to answer, the server's own store being
// closed included, is store.ErrUnavailable: ErrClosed from a Client means
// that Client was closed, which a restarting server must not be taken
// for.
func sentinelsOf(code string) []error {
	switch code {
	case CodeNotFound:
		return []error{store.ErrNotFound}
	case CodeConflict:
		return []error{store.ErrConflict}
	case CodeInvalid, CodeTooLarge:
		return []error{store.ErrInvalid}
	case CodeCorrupt:
		return []error{store.ErrCorrupt}
	case CodeUnevaluable:
		return []error{agenttrust.ErrUnevaluable}
	case CodeInvalidRequest:
		return []error{agenttrust.ErrInvalidRequest}
	case CodeDeadlineExceeded:
		return []error{store.ErrUnavailable, context.DeadlineExceeded}
	}
	return []error{store.ErrUnavailable}
}

// retryable reports whether an answer with status may be retried by an
// idempotent call: the gateway and availability errors.
func retryable(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}
