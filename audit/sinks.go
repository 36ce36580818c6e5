// Package audit holds where agenttrust's audit records go and what
// guards them there: sinks for the store (StoreSink), memory
// (MemorySink), JSON lines on any io.Writer and a *slog.Logger;
// checkpoints of each chain's head, kept out of the store's reach
// (Checkpoints); and VerifyStoredChain, which reads a stored chain in
// full and checks it. Any agenttrust.AuditSink can be given to
// agenttrust.AuditConfig.Sinks.
package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust"
)

// JSONSink writes each record as one line of JSON to w. Writes are
// serialised; it is safe for concurrent use if w is used by nothing else.
// Make one with NewJSONSink; the zero JSONSink is not usable.
type JSONSink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewJSONSink returns a sink writing JSON lines to w.
func NewJSONSink(w io.Writer) *JSONSink { return &JSONSink{w: w} }

// Write implements AuditSink. The whole batch goes out in one Write call.
func (s *JSONSink) Write(_ context.Context, recs []agenttrust.AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := bytes.NewBuffer(s.buf[:0])
	// No HTML escaping: json.Marshal would write "<" in a record's raw
	// attributes as "\u003c", and the line would no longer verify under
	// the audit key, whose MAC covers the attributes byte for byte.
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil { // one line each
			return fmt.Errorf("agenttrust: encode audit record: %w", err)
		}
	}
	s.buf = buf.Bytes()
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("agenttrust: write audit records: %w", err)
	}
	return nil
}

// SlogSink logs each record at Info level with the message "agenttrust
// decision" and the record's fields as attributes. A record its logger's
// handler does not take (it is not enabled at Info, or its Handle fails)
// makes Write fail, so the client retries the batch; records of a batch
// logged before the failure are logged again then. Safe for concurrent
// use if its logger is. Make one with NewSlogSink; the zero SlogSink is
// not usable.
type SlogSink struct {
	log *slog.Logger
}

// NewSlogSink returns a sink that logs to l.
func NewSlogSink(l *slog.Logger) *SlogSink { return &SlogSink{log: l} }

// errSlogDisabled: the sink's logger drops records at Info.
var errSlogDisabled = errors.New("agenttrust: audit log handler is not enabled at level Info; records would be dropped")

// Write implements AuditSink. It calls the handler itself: slog.Logger
// discards what Handle returns, and a lost record must fail the write.
func (s *SlogSink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return errSlogDisabled
	}
	for i := range recs {
		r := &recs[i]
		rec := slog.NewRecord(time.Now(), slog.LevelInfo, "agenttrust decision", 0)
		rec.AddAttrs(
			slog.String("chain", r.Chain),
			slog.Uint64("seq", r.Seq),
			slog.String("id", r.ID.String()),
			slog.Time("time", r.Time),
			slog.String("tenant", r.Tenant),
			slog.String("agent_id", r.AgentID),
			slog.String("on_behalf_of", r.OnBehalfOf),
			slog.String("session_id", r.SessionID),
			slog.String("tool", r.Tool),
			slog.String("resource", r.Resource),
			slog.String("attributes", string(r.Attributes)),
			slog.String("credential_id", r.CredentialID),
			slog.String("vouched_by", r.VouchedBy),
			slog.String("request_id", r.RequestID),
			slog.Any("hop_ids", r.HopIDs),
			slog.String("effect", r.Effect.String()),
			slog.String("rule", r.Rule),
			slog.String("reason", r.Reason),
			slog.String("approval_id", r.ApprovalID),
			slog.Duration("latency", r.Latency),
			// What a shadow policy decided instead: an operator trying one
			// with the log as the trail must see where it disagrees.
			slog.String("shadow_effect", r.ShadowEffect),
			slog.String("shadow_rule", r.ShadowRule),
			slog.String("prev_hash", r.PrevHash.String()),
			slog.String("hash", r.Hash.String()),
		)
		if err := h.Handle(ctx, rec); err != nil {
			return fmt.Errorf("agenttrust: log audit record: %w", err)
		}
	}
	return nil
}

var (
	_ agenttrust.AuditSink = (*JSONSink)(nil)
	_ agenttrust.AuditSink = (*SlogSink)(nil)
)
