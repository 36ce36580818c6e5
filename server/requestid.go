package server

import (
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust/internal/redact"
)

// Request ids. Every response carries an X-Request-Id header: the
// caller's own X-Request-Id when it is acceptable, else the trace id of
// its W3C traceparent header, else one the server makes. The same id is
// in the access log line of the request and in every log line the
// request causes, so an operator can follow one call from a client's
// log to the server's, and from there to the audit record: a check's
// record keeps the id (request_id, under the chain's MAC), and its
// access log line names the decision id too.

// RequestIDHeader is the header that carries a request id, in both
// directions.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a request id taken from a caller.
const maxRequestIDLen = 128

// validRequestID reports whether a caller's X-Request-Id may be used as
// is: 1-128 bytes of ASCII letters, digits and "-_.:/+=@", holding no
// agenttrust credential. Anything else (control characters, spaces,
// quotes, non-ASCII, a huge value) could forge log lines or headers
// downstream, and an API key fits those bytes but must not be echoed,
// logged or recorded, so it is replaced, never echoed.
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '-' || b == '_' || b == '.' || b == ':' || b == '/' || b == '+' || b == '=' || b == '@') {
			return false
		}
	}
	return !redact.MayHold(s) || redact.Credentials(s) == s
}

// traceID returns the trace id of a W3C traceparent header
// ("00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"), or "" when
// the header is not a valid one. Only lowercase hex is valid; version ff
// and all-zero ids are invalid; a version above 00 may carry more
// fields after the flags.
func traceID(tp string) string {
	if len(tp) < 55 || (len(tp) > 55 && (tp[:2] == "00" || tp[55] != '-')) {
		return ""
	}
	if tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || tp[:2] == "ff" {
		return ""
	}
	for _, part := range [...]string{tp[:2], tp[3:35], tp[36:52], tp[53:55]} {
		if !lowerHex(part) {
			return ""
		}
	}
	if allZero(tp[3:35]) || allZero(tp[36:52]) {
		return ""
	}
	return tp[3:35]
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(b >= '0' && b <= '9' || b >= 'a' && b <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// requestIDs makes request ids: 32 lowercase hex characters, the form of
// a W3C trace id, so a made id can start a trace. The first half is
// random, drawn once from the server's random source (WithRandom); the
// second half counts, so ids are unique within a process, distinct
// across processes, and cost no random read per request.
type requestIDs struct {
	prefix [16]byte // hex of 8 random bytes
	n      atomic.Uint64
}

func (g *requestIDs) init(seed [8]byte) { hex.Encode(g.prefix[:], seed[:]) }

func (g *requestIDs) next() string {
	var b [32]byte
	copy(b[:16], g.prefix[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], g.n.Add(1))
	hex.Encode(b[16:], n[:])
	return string(b[:])
}

// requestID picks the id of r (see RequestIDHeader) and reports whether
// the caller sent an X-Request-Id that was refused.
func (s *Server) requestID(r *http.Request) (id string, refused bool) {
	if v := r.Header[RequestIDHeader]; len(v) > 0 {
		if len(v) == 1 && validRequestID(v[0]) {
			return v[0], false
		}
		refused = true
	}
	if v := r.Header["Traceparent"]; len(v) == 1 {
		if id := traceID(v[0]); id != "" {
			return id, refused
		}
	}
	return s.reqIDs.next(), refused
}

// tagRequest sets the response's X-Request-Id: the first thing a
// request's handler does, so every answer carries it, errors and 401s
// included.
func (s *Server) tagRequest(c *call) {
	if s.access != nil || s.obs != nil {
		c.start = time.Now() // for the latency of the access log and the observer
	}
	c.reqID, c.badReqID = s.requestID(c.r)
	c.w.Header()[RequestIDHeader] = []string{c.reqID}
}

// accessRoute is the route of c for the access log: its pattern, or
// "unmatched" for a request no route took (its path is the caller's).
func accessRoute(c *call) string {
	if c.rt == nil {
		return "unmatched"
	}
	return c.rt.name()
}
