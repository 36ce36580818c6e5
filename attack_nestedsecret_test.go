package agenttrust_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackNestedSecretRecorded: attributes whose names suggest secrets
// (and those named in AuditConfig.Redact) are redacted in the audit
// record. A tool's arguments nest: {"auth":{"password":...}} is as much
// a password as {"password":...}, and the trail (and the console that
// shows it) must not keep it at any depth, whatever form the value came
// in.
func TestAttackNestedSecretRecorded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]any
	}{
		{"map", map[string]any{"auth": map[string]any{"user": "bob", "password": "hunter2"}}},
		{"list of maps", map[string]any{"logins": []any{map[string]any{"Api_Key": "hunter2"}}}},
		{"deep", map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"client_secret": "hunter2"}}}}},
		{"raw JSON", map[string]any{"body": json.RawMessage(`{"user":"bob","PASSWORD":"hunter2"}`)}},
		{"struct", map[string]any{"login": struct {
			User  string `json:"user"`
			Token string `json:"token"`
		}{"bob", "hunter2"}}},
		{"a name from AuditConfig.Redact", map[string]any{"person": map[string]any{"ssn": "hunter2"}}},
		{"a secret object", map[string]any{"x": map[string]any{"credentials": map[string]any{"user": "hunter2"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Redact: []string{"ssn"}}))
			req := charge(1)
			req.Attributes = tc.attrs
			f.c.Check(context.Background(), req)
			attrs := string(f.records(t)[0].Attributes)
			if strings.Contains(attrs, "hunter2") {
				t.Errorf("the secret is in the audit record's attributes: %s", attrs)
			}
			if !strings.Contains(attrs, `"[redacted]"`) {
				t.Errorf("no redaction mark in %s", attrs)
			}
		})
	}
	// Control: nested values that are not secrets are kept as they are.
	f := newFixture(t, paymentsPolicy)
	req := charge(1)
	req.Attributes = map[string]any{"order": map[string]any{"item": "bolts", "qty": 3}}
	f.c.Check(context.Background(), req)
	if got := string(f.records(t)[0].Attributes); got != `{"order":{"item":"bolts","qty":3}}` {
		t.Errorf("control: attributes %s", got)
	}
}
