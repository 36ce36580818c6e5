package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// MaxBodySize bounds a request body. A larger one is refused with 400
// before it is read, when its Content-Length says so, or as soon as the
// limit is crossed otherwise.
const MaxBodySize = 1 << 20

// apiError is an error with its HTTP status and machine-readable code.
type apiError struct {
	status int
	code   string
	msg    string
	cause  error // for the log only, never the response
}

func (e *apiError) Error() string { return e.msg }

func badRequest(code, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: msg}
}

func missing(field string) *apiError {
	return badRequest("missing_field", field+" is required")
}

func forbidden(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, code: "forbidden", msg: msg}
}

func notFound(msg string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "not_found", msg: msg}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// errorCode returns the API code of err, or "internal".
func errorCode(err error) string { return errs.Code(err) }

// classify turns a handler's error into the response to send, by kind.
// A credential error here is about a credential in the body (the bearer's
// own go through authError), so it is a 400, not a 401.
func (s *Server) classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	code := errorCode(err)
	msg := err.Error()
	if isStoreFailure(err) {
		// Whatever else it is, a store failure's text is not the caller's.
		msg = unavailableMessage("store_unavailable")
	}
	status := http.StatusInternalServerError
	switch code {
	case "invalid_request", "invalid_policy", "caveat", "malformed_credential", "key_checksum", "credential_too_large":
		status = http.StatusBadRequest
	case "not_found":
		status = http.StatusNotFound
	case "conflict", "approval_resolved":
		status = http.StatusConflict
	case "approver_not_allowed":
		status = http.StatusForbidden
	case "store_unavailable", "audit_unavailable", "audit_chain_broken", "closed", "timeout":
		status, msg = http.StatusServiceUnavailable, unavailableMessage(code)
	case "canceled":
		status, msg = 499, "the request was canceled" // the client went away; nobody reads this
	case "internal", "policy_engine":
		msg = "internal error"
	default:
		if errors.Is(err, agenttrust.ErrUnauthorized) {
			status = http.StatusBadRequest // a credential in the body, not the caller's
		}
	}
	return &apiError{status: status, code: code, msg: msg}
}

// authError turns a failure to authenticate the bearer into a 401 (or 503
// when the store is down).
func authError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	code := errorCode(err)
	switch {
	case isStoreFailure(err):
		return &apiError{status: http.StatusServiceUnavailable, code: "store_unavailable", msg: unavailableMessage("store_unavailable"), cause: err}
	case errors.Is(err, agenttrust.ErrUnauthorized):
		return &apiError{status: http.StatusUnauthorized, code: code, msg: err.Error()}
	case code == "store_unavailable" || code == "audit_chain_broken" || code == "closed" || code == "timeout":
		return &apiError{status: http.StatusServiceUnavailable, code: code, msg: unavailableMessage(code), cause: err}
	case code == "invalid_request":
		return &apiError{status: http.StatusUnauthorized, code: "unauthorized", msg: "agenttrust: unauthorized: " + err.Error()}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", msg: "internal error", cause: err}
}

func isStoreFailure(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, agenttrust.ErrStoreUnavailable)
}

// unavailableMessage is what a caller reads of a 503. The error itself
// stays in the server's log: a store error may name the database's user,
// name, host and port, which are not the caller's to learn.
func unavailableMessage(code string) string {
	switch code {
	case "store_unavailable":
		return "agenttrust: store unavailable; try again later"
	case "audit_unavailable":
		return "agenttrust: audit trail unavailable; try again later"
	case "audit_chain_broken":
		return "agenttrust: this tenant's audit chain failed verification; an operator must look"
	case "closed":
		return "agenttrust: the server is shutting down"
	case "timeout":
		return "agenttrust: the request timed out"
	}
	return "agenttrust: service unavailable"
}

// writeError sends err as {"error": {"code", "message"}}.
func (s *Server) writeError(c *call, err error) {
	ae := s.classify(err)
	if ae.cause != nil {
		err = ae.cause
	}
	if c.status != 0 {
		// The response has started (a stream); all we can do is log.
		if ae.status >= 500 {
			s.log.Error("agenttrust/server: request failed after response began", "route", routeName(c), "request_id", c.reqID, "err", err)
		}
		return
	}
	if ae.status >= 500 {
		if ae.code == "store_unavailable" || ae.code == "timeout" {
			s.storeError(c.r.Context(), c.p.Tenant)
		}
		s.log.Error("agenttrust/server: request failed", "route", routeName(c), "request_id", c.reqID, "status", ae.status, "err", err)
	}
	h := c.w.Header()
	if ae == errBodyTimeout {
		h.Set("Connection", "close") // what is left of the body is not read
	}
	switch ae.status {
	case http.StatusUnauthorized:
		if ae.code == "unauthenticated" {
			h.Set("WWW-Authenticate", `Bearer realm="agenttrust"`)
		} else {
			h.Set("WWW-Authenticate", `Bearer realm="agenttrust", error="invalid_token"`)
		}
	case http.StatusForbidden:
		if ae.code == "forbidden" {
			h.Set("WWW-Authenticate", `Bearer realm="agenttrust", error="insufficient_scope"`)
		}
	}
	writeJSON(c, ae.status, wire.ErrorBody{Error: wire.ErrorDetail{Code: ae.code, Message: redact.Credentials(ae.msg)}})
}

func routeName(c *call) string {
	if c.rt == nil {
		return c.r.Method + " " + c.r.URL.Path
	}
	return c.rt.name()
}

// writeJSON sends v with status.
func writeJSON(c *call, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	writeRaw(c, status, append(b, '\n'))
}

// writeRecords sends v, which holds audit records, with status and
// without HTML escaping: json.Marshal would rewrite "<" in a record's
// raw attributes as "\u003c", and the record would then fail
// VerifyChain on the client, its MAC covering the bytes as stored.
func writeRecords(c *call, status int, v any) {
	b, err := marshalRecords(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	writeRaw(c, status, append(b, '\n'))
}

// marshalRecords is json.Marshal without HTML escaping, so that audit
// attributes go out byte for byte (see writeRecords).
func marshalRecords(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeRaw(c *call, status int, b []byte) {
	h := c.w.Header()
	h["Content-Type"] = jsonContentType
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = noStore
	}
	h["X-Content-Type-Options"] = nosniff
	c.status = status
	c.w.WriteHeader(status)
	c.w.Write(b)
}

var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
	nosniff         = []string{"nosniff"}
)

func noContent(c *call) {
	c.w.Header()["Cache-Control"] = noStore
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}

// readBody reads the request body into c.body: at most MaxBodySize bytes,
// refused up front when Content-Length is larger.
func readBody(c *call) error {
	r := c.r
	if r.ContentLength > MaxBodySize {
		return errTooLarge
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", msg: "the request body must be application/json"}
		}
	}
	body := http.MaxBytesReader(c.w, r.Body, MaxBodySize)
	buf := bytes.NewBuffer(c.body[:0])
	_, err := buf.ReadFrom(body)
	c.body = buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errBodyTimeout
		}
		return &apiError{status: http.StatusBadRequest, code: "invalid_body", msg: "reading the request body failed"}
	}
	return nil
}

var errTooLarge = badRequest("request_too_large", "the request body is larger than 1 MiB")

var errBodyTimeout = &apiError{status: http.StatusRequestTimeout, code: "body_timeout", msg: "the request body did not arrive in time"}

var errUnexpectedBody = badRequest("unexpected_body", "this route takes no request body")

// hasBody reports whether r comes with a body, however short.
func hasBody(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody }

// emptyBody reads the body of a route that takes none, which some
// clients send empty (HTTP/2 among them): reaching its end lifts the read
// deadline (see boundBody), so that a long poll or a stream is not cut
// by it; a byte of content is refused.
func emptyBody(r *http.Request) error {
	var b [1]byte
	n, err := io.ReadFull(r.Body, b[:])
	switch {
	case n > 0:
		return errUnexpectedBody
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errBodyTimeout
	case err != io.EOF:
		return &apiError{status: http.StatusBadRequest, code: "invalid_body", msg: "reading the request body failed"}
	}
	return nil
}

// takesNoBody: GET routes, among them the audit stream and the long poll
// of an approval, which are the only routes that run long.
func (rt *route) takesNoBody() bool { return rt.method == http.MethodGet }

// boundBody gives the body of r until the body timeout to arrive in
// full: a read deadline on the connection. net/http lifts it once the
// body has been read to its end, when it starts watching the connection
// for the client going away, so it does not cut the handler's work. The
// deadline is the wall clock's, as the connection's must be. Where the
// ResponseWriter cannot set one, the host server's own timeouts are all
// there is.
func (s *Server) boundBody(w http.ResponseWriter, r *http.Request) {
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.bodyWait))
}

// strict is how request bodies are decoded: member names match exactly,
// unknown and duplicate members are refused, invalid UTF-8 is refused,
// and the body holds one JSON value and nothing after it. A check's
// attributes keep their numbers' text (wire.Attributes).
var strict = jsonv2.RejectUnknownMembers(true)

// decode decodes the body into v, strictly. An empty body is allowed
// only on routes that say so, and reads as the zero value.
func (c *call) decode(v any) error {
	if len(bytes.TrimSpace(c.body)) == 0 {
		if c.rt.emptyBody {
			return nil
		}
		return badRequest("invalid_json", "a JSON request body is required")
	}
	if err := jsonv2.Unmarshal(c.body, v, strict); err != nil {
		return jsonError(err)
	}
	return nil
}

// noBody refuses a body on a route that takes none ("{}" is tolerated).
func (c *call) noBody() error {
	b := bytes.TrimSpace(c.body)
	if len(b) == 0 || string(b) == "{}" {
		return nil
	}
	return badRequest("invalid_json", c.rt.name()+" takes no request body")
}

func jsonError(err error) error {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		where := se.JSONPointer
		if errors.Is(se.Err, jsonv2.ErrUnknownName) {
			return badRequest("unknown_field", "unknown field "+quote(string(where)))
		}
		if where == "" {
			where = "/"
		}
		msg := "wrong type at " + quote(string(where))
		if se.JSONKind != 0 {
			msg += ": got a JSON " + jsonKind(byte(se.JSONKind))
		}
		return badRequest("invalid_json", msg)
	}
	msg := strings.TrimPrefix(err.Error(), "jsontext: ")
	msg = strings.TrimPrefix(msg, "json: ")
	return badRequest("invalid_json", "malformed JSON: "+msg)
}

func jsonKind(k byte) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

// validID checks an id taken from a path or a body: 1-256 bytes of UTF-8
// without control characters, starting with prefix when one is given.
func validID(field, id, prefix string) error {
	switch {
	case id == "":
		return missing(field)
	case len(id) > 256:
		return badRequest("invalid_id", field+" is longer than 256 bytes")
	case hasControl(id) || !utf8.ValidString(id):
		return badRequest("invalid_id", field+" holds a control character or invalid UTF-8")
	case prefix != "" && !strings.HasPrefix(id, prefix):
		return badRequest("invalid_id", field+" must start with "+quote(prefix))
	}
	return nil
}
