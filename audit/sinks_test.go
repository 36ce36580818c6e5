package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - {id: small, effect: allow, agents: [bot], tools: [pay], when: ["attr.amount <= 50"]}
  - {id: big, effect: needs_approval, agents: [bot], tools: [pay], when: ["attr.amount > 50"]}
`

func TestJSONAndSlogSinks(t *testing.T) {
	var jsonBuf, logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{
		Sinks: []agenttrust.AuditSink{audit.NewJSONSink(&jsonBuf), audit.NewSlogSink(logger)}}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		req := agenttrust.Request{AgentID: "bot", Tool: "pay", Attributes: map[string]any{"amount": i * 40}}
		if i > 0 {
			req.RequestID = fmt.Sprintf("req-%d", i)
		}
		c.Check(context.Background(), req)
	}
	if err := c.Close(); err != nil { // writes every record
		t.Fatal(err)
	}
	var recs []agenttrust.AuditRecord
	sc := bufio.NewScanner(&jsonBuf)
	for sc.Scan() {
		var r agenttrust.AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad JSON line %s: %v", sc.Bytes(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 {
		t.Fatalf("%d JSON lines", len(recs))
	}
	// The chain survives a round trip through JSON.
	if err := c.VerifyChain(recs); err != nil {
		t.Fatal(err)
	}
	if recs[2].Effect != agenttrust.NeedsApproval || recs[0].Rule != "small" {
		t.Errorf("records %+v", recs)
	}
	if recs[0].RequestID != "" || recs[1].RequestID != "req-1" || recs[2].RequestID != "req-2" {
		t.Errorf("request ids %q %q %q, want \"\" req-1 req-2", recs[0].RequestID, recs[1].RequestID, recs[2].RequestID)
	}
	if n := strings.Count(logBuf.String(), `"msg":"agenttrust decision"`); n != 3 {
		t.Errorf("%d slog lines", n)
	}
	if !strings.Contains(logBuf.String(), `"request_id":"req-2"`) {
		t.Errorf("slog lines lack the request id: %s", logBuf.String())
	}
	if !strings.Contains(logBuf.String(), `"rule":"big"`) {
		t.Errorf("slog lines lack the rule: %s", logBuf.String())
	}
}

// A writer that fails makes Write fail, so the client retries the batch.
func TestJSONSinkReportsWriteFailure(t *testing.T) {
	s := audit.NewJSONSink(failWriter{})
	err := s.Write(context.Background(), []agenttrust.AuditRecord{{Chain: "c", Seq: 1}})
	if err == nil || !errors.Is(err, errDisk) {
		t.Fatalf("Write = %v, want the writer's error", err)
	}
}

var errDisk = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errDisk }
