package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackSlogSinkDropsShadow: SlogSink wrote every field of a record
// but the shadow policy's verdict, so an operator trying a candidate
// policy with the log as the trail (AuditConfig.Shadow, SlogSink) saw no
// disagreement where the candidate would have allowed what the live
// policy denies, and could ship it as harmless. Every field of a record
// is in its log line; the shadow's under the values the record holds.
func TestAttackSlogSinkDropsShadow(t *testing.T) {
	live, err := agenttrust.ParsePolicy([]byte(`{"rules":[{"id":"no-delete","effect":"deny","tools":["docs.delete"]}]}`), "json")
	if err != nil {
		t.Fatal(err)
	}
	candidate, err := agenttrust.ParsePolicy([]byte(`{"rules":[{"id":"open","effect":"allow","tools":["*"]}]}`), "json")
	if err != nil {
		t.Fatal(err)
	}
	shadow, err := agenttrust.NewRuleEngine(candidate)
	if err != nil {
		t.Fatal(err)
	}
	var jsonBuf, logBuf bytes.Buffer
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(live), agenttrust.WithAudit(agenttrust.AuditConfig{
		Shadow: shadow, Sinks: []agenttrust.AuditSink{audit.NewJSONSink(&jsonBuf), audit.NewSlogSink(slog.New(slog.NewJSONHandler(&logBuf, nil)))}}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.delete", Resource: "doc/1"})
	if err != nil || d.Effect != agenttrust.Deny || d.Rule != "no-delete" {
		t.Fatalf("live decision %v %q %v, want a deny by no-delete", d.Effect, d.Rule, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var rec agenttrust.AuditRecord
	if err := json.Unmarshal(jsonBuf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Effect != agenttrust.Deny || rec.ShadowEffect != "allow" || rec.ShadowRule != "open" {
		t.Fatalf("record %+v: want a deny the shadow allows by open", rec)
	}
	var line map[string]any
	if err := json.Unmarshal(logBuf.Bytes(), &line); err != nil {
		t.Fatalf("log %s: %v", logBuf.Bytes(), err)
	}
	// One case per field of a record, by its JSON name (the log names
	// latency_ns latency).
	rt := reflect.TypeFor[agenttrust.AuditRecord]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "latency_ns" {
			name = "latency"
		}
		t.Run(name, func(t *testing.T) {
			v, ok := line[name]
			if !ok {
				t.Fatalf("the log line has no %s: %s", name, logBuf.Bytes())
			}
			switch name {
			case "shadow_effect":
				if v != rec.ShadowEffect {
					t.Errorf("shadow_effect %v, want %q", v, rec.ShadowEffect)
				}
			case "shadow_rule":
				if v != rec.ShadowRule {
					t.Errorf("shadow_rule %v, want %q", v, rec.ShadowRule)
				}
			case "effect":
				if v != "deny" {
					t.Errorf("effect %v, want deny", v)
				}
			}
		})
	}
}
