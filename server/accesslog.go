package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust"
)

// accessMsg is the message of every access log line.
const accessMsg = "agenttrust/server: request"

// WithAccessLogText writes the access log of WithAccessLog to w, line
// for line what WithAccessLog(slog.New(slog.NewTextHandler(w, nil)))
// writes, but without building a slog record: a line per request costs
// about a tenth of what slog's handler does. Lines go to w one Write
// each, one at a time.
func WithAccessLogText(w io.Writer) Option { return withAccessLines(w, false) }

// WithAccessLogJSON is WithAccessLogText for slog.NewJSONHandler's lines.
func WithAccessLogJSON(w io.Writer) Option { return withAccessLines(w, true) }

func withAccessLines(w io.Writer, json bool) Option {
	return func(s *Server) error {
		if w == nil {
			return fmt.Errorf("%w: nil access log writer", agenttrust.ErrInvalidConfig)
		}
		l := &accessLines{w: w, json: json}
		// Lines the fast path does not write (a field to escape) go
		// through slog, into the same writer under the same lock.
		var h slog.Handler
		if json {
			h = slog.NewJSONHandler(lockedWriter{l}, nil)
		} else {
			h = slog.NewTextHandler(lockedWriter{l}, nil)
		}
		s.access, s.accessLines = slog.New(h), l
		return nil
	}
}

// accessLines writes access log lines in slog's text or JSON format.
type accessLines struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

// lockedWriter writes to an accessLines' writer under its lock.
type lockedWriter struct{ l *accessLines }

func (lw lockedWriter) Write(p []byte) (int, error) {
	lw.l.mu.Lock()
	defer lw.l.mu.Unlock()
	return lw.l.w.Write(p)
}

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 320); return &b }}

// write writes the line of c at now and reports whether it did; it does
// not when a field would need escaping or the time is outside slog's
// range, which slog's handler then writes.
func (l *accessLines) write(c *call, now time.Time, status int) bool {
	if y := now.Year(); y < 0 || y > 9999 {
		return false
	}
	var method, path string
	if c.rt != nil {
		method, path = c.rt.method, c.rt.path
	}
	if !plain(c.r.Method) || !plain(method) || !plain(path) || !plain(c.reqID) || !plain(c.p.Tenant) || !plain(c.decision) {
		return false
	}
	bp := lineBufs.Get().(*[]byte)
	b := (*bp)[:0]
	if l.json {
		b = append(b, `{"time":"`...)
		b = now.Round(0).AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"INFO","msg":"`+accessMsg+`"`...)
	} else {
		b = append(b, "time="...)
		b = now.Round(0).Truncate(time.Millisecond).AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, ` level=INFO msg="`+accessMsg+`"`...)
	}
	b = l.appendString(b, "method", c.r.Method)
	b = l.appendKey(b, "route")
	switch {
	case c.rt == nil:
		b = l.appendValue(b, "unmatched")
	case method == "":
		b = append(append(append(b, `"* `...), path...), '"') // as route.name
	default:
		b = append(append(append(append(append(b, '"'), method...), ' '), path...), '"')
	}
	b = strconv.AppendInt(l.appendKey(b, "status"), int64(status), 10)
	b = l.appendKey(b, "latency")
	if d := now.Sub(c.start); l.json {
		b = strconv.AppendInt(b, int64(d), 10) // as json.Marshal
	} else {
		b = append(b, d.String()...) // no escaping: digits, units and '.'
	}
	b = l.appendString(b, "request_id", c.reqID)
	if c.p.Tenant != "" {
		b = l.appendString(b, "tenant", c.p.Tenant)
	}
	if c.decision != "" {
		b = l.appendString(b, "decision_id", c.decision)
	}
	if c.badReqID {
		b = append(l.appendKey(b, "request_id_replaced"), "true"...)
	}
	if l.json {
		b = append(b, '}')
	}
	b = append(b, '\n')
	l.mu.Lock()
	_, _ = l.w.Write(b) // as slog: a line that cannot be written has nowhere to go
	l.mu.Unlock()
	*bp = b
	lineBufs.Put(bp)
	return true
}

// appendKey appends the separator and key, which needs no escaping.
func (l *accessLines) appendKey(b []byte, key string) []byte {
	if l.json {
		return append(append(append(b, `,"`...), key...), `":`...)
	}
	return append(append(append(b, ' '), key...), '=')
}

func (l *accessLines) appendString(b []byte, key, v string) []byte {
	return l.appendValue(l.appendKey(b, key), v)
}

// appendValue appends v, which plain accepted, as slog would: quoted in
// JSON, and in text when empty or holding a space or '='.
func (l *accessLines) appendValue(b []byte, v string) []byte {
	if l.json || v == "" || strings.ContainsAny(v, " =") {
		return append(append(append(b, '"'), v...), '"')
	}
	return append(b, v...)
}

// plain reports whether s is printable ASCII without '"' or '\\': a
// string that neither format escapes, only quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// accessLog writes the access log line of a finished call: method,
// route pattern (never the raw path, which may hold ids), status,
// latency, tenant, request id and, for a check, its decision id. No
// header, query or body is logged, so no credential is.
func (s *Server) accessLog(c *call) {
	if s.access == nil {
		return
	}
	ctx := c.r.Context()
	if !s.access.Enabled(ctx, slog.LevelInfo) {
		return
	}
	s.logAccess(ctx, c, time.Now())
}

// logAccess writes the line of c at now.
func (s *Server) logAccess(ctx context.Context, c *call, now time.Time) {
	status := c.status
	if status == 0 {
		status = http.StatusOK // a handler that wrote without a status
	}
	if s.accessLines != nil && s.accessLines.write(c, now, status) {
		return
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs,
		slog.String("method", c.r.Method),
		slog.String("route", accessRoute(c)),
		slog.Int("status", status),
		slog.Duration("latency", now.Sub(c.start)),
		slog.String("request_id", c.reqID),
	)
	if c.p.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", c.p.Tenant))
	}
	if c.decision != "" {
		attrs = append(attrs, slog.String("decision_id", c.decision))
	}
	if c.badReqID {
		attrs = append(attrs, slog.Bool("request_id_replaced", true))
	}
	// The handler directly: the record's source would be this function.
	r := slog.NewRecord(now, slog.LevelInfo, accessMsg, 0)
	r.AddAttrs(attrs...)
	_ = s.access.Handler().Handle(ctx, r)
}
