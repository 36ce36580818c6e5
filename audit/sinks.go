// Package audit holds where agenttrust's audit records go and what
// guards them there: sinks for the store (StoreSink), memory
// (MemorySink), JSON lines on any io.Writer and a *slog.Logger;
// checkpoints of each chain's head, kept out of the store's reach
// (Checkpoints); and VerifyStoredChain, which reads a stored chain in
// full and checks it. Any agenttrust.AuditSink can be given to
// agenttrust.AuditConfig.Sinks.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"

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
	s.buf = s.buf[:0]
	for i := range recs {
		b, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("agenttrust: encode audit record: %w", err)
		}
		s.buf = append(append(s.buf, b...), '\n')
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("agenttrust: write audit records: %w", err)
	}
	return nil
}

// SlogSink logs each record at Info level with the message "agenttrust
// decision" and the record's fields as attributes. Safe for concurrent
// use if its logger is. Make one with NewSlogSink; the zero SlogSink is
// not usable.
type SlogSink struct {
	log *slog.Logger
}

// NewSlogSink returns a sink that logs to l.
func NewSlogSink(l *slog.Logger) *SlogSink { return &SlogSink{log: l} }

// Write implements AuditSink.
func (s *SlogSink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	for i := range recs {
		r := &recs[i]
		s.log.LogAttrs(ctx, slog.LevelInfo, "agenttrust decision",
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
	}
	return nil
}

var (
	_ agenttrust.AuditSink = (*JSONSink)(nil)
	_ agenttrust.AuditSink = (*SlogSink)(nil)
)
