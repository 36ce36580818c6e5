package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackAuditExportVerifies: an agent puts <, > or & in an attribute.
// The record keeps the attribute's JSON byte for byte, and its MAC covers
// those bytes; but the exports (GET /v1/audit, the audit stream, the
// JSON lines of audit.JSONSink) wrote it with encoding/json's HTML
// escaping, "<" as "\u003c". The exported record, holding the same
// values, then failed VerifyChain under the audit key as if edited: any
// agent could make its own records unverifiable off the server, and an
// auditor checking an export would learn to ignore failures, a real edit
// among them.
func TestAttackAuditExportVerifies(t *testing.T) {
	e := newEnv(t)
	alice := e.key("acme/alice")
	e.check(e.key("acme/bot"), map[string]any{"tool_name": "docs.read", "attributes": map[string]any{"note": "<b>&amp;</b>", "sep": "a\u2028b"}})
	e.sync()
	stored, err := e.st.QueryAudit(context.Background(), store.AuditQuery{Chain: "n1/acme"})
	if err != nil || len(stored) != 1 || !bytes.Contains(stored[0].Attributes, []byte("<b>")) {
		t.Fatalf("stored records %v %v, want one holding <b> in its attributes", stored, err)
	}
	if err := agenttrust.VerifyChain(stored, testAuditKey); err != nil {
		t.Fatalf("control: the stored chain: %v", err)
	}
	for _, tc := range []struct {
		name   string
		export func(t *testing.T) []store.AuditRecord
	}{
		{"GET /v1/audit", func(t *testing.T) []store.AuditRecord {
			var page wire.AuditPage
			if err := json.Unmarshal(e.must(200, "GET", "/v1/audit", alice, nil).body, &page); err != nil {
				t.Fatal(err)
			}
			return page.Records
		}},
		{"GET /v1/audit/stream", func(t *testing.T) []store.AuditRecord {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			since := e.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/audit/stream?since="+since, nil)
			req.Header.Set("Authorization", "Bearer "+alice)
			res, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					var r store.AuditRecord
					if err := json.Unmarshal([]byte(data), &r); err != nil {
						t.Fatal(err)
					}
					return []store.AuditRecord{r}
				}
			}
			t.Fatalf("no audit event: %v", sc.Err())
			return nil
		}},
		{"audit.JSONSink", func(t *testing.T) []store.AuditRecord {
			var buf bytes.Buffer
			if err := audit.NewJSONSink(&buf).Write(context.Background(), stored); err != nil {
				t.Fatal(err)
			}
			var out []store.AuditRecord
			for line := range bytes.Lines(buf.Bytes()) {
				var r store.AuditRecord
				if err := json.Unmarshal(line, &r); err != nil {
					t.Fatal(err)
				}
				out = append(out, r)
			}
			return out
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := tc.export(t)
			if len(recs) != 1 {
				t.Fatalf("%d records exported, want 1", len(recs))
			}
			if err := agenttrust.VerifyChain(recs, testAuditKey); err != nil {
				t.Errorf("the exported record does not verify: %v\nattributes stored %s, exported %s", err, stored[0].Attributes, recs[0].Attributes)
			}
		})
	}
}
