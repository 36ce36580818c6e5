package agenttrust_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// foreignJWT is a JWT of another issuer (HS256 header): detected by its
// shape, not by who signed it.
const foreignJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJlLW5vdC1jaGVja2Vk"

const credPolicy = `
rules:
  - id: no-foreign-jwt
    effect: deny
    tools: [notes.write]
    when: ["attr.note = ` + foreignJWT + `"]
    reason: a foreign JWT in a note
  - id: mail
    effect: needs_approval
    tools: [mail.send]
    reason: mail needs a human
`

// TestAttackCredentialInArgs: an agenttrust credential (API key, token,
// JWT) pasted into a tool argument under a harmless name reaches neither
// the audit record nor the stored approval, wherever it sits in the
// value. The policy decides on the value as given.
func TestAttackCredentialInArgs(t *testing.T) {
	f := newFixture(t, credPolicy)
	ctx := context.Background()
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	narrowed, err := agenttrust.Attenuate(tok, "tool in mail.send")
	if err != nil {
		t.Fatal(err)
	}
	jwtTok, err := f.c.ExchangeJWT(ctx, key, "agenttrust")
	if err != nil {
		t.Fatal(err)
	}
	creds := []struct{ kind, secret string }{
		{"api key", key}, {"token", tok}, {"attenuated token", narrowed}, {"jwt", jwtTok}, {"foreign jwt", foreignJWT},
	}
	placements := []struct {
		name  string
		attrs func(s string) map[string]any
	}{
		{"note", func(s string) map[string]any { return map[string]any{"note": s} }},
		{"body", func(s string) map[string]any { return map[string]any{"body": s} }},
		{"embedded in text", func(s string) map[string]any {
			return map[string]any{"body": "hi, here is my key: " + s + " (do not share)"}
		}},
		{"twice in text", func(s string) map[string]any { return map[string]any{"body": s + "," + s} }},
		{"whitespace around", func(s string) map[string]any { return map[string]any{"note": "\t\n " + s + "\r\n"} }},
		{"percent around", func(s string) map[string]any { return map[string]any{"note": "%22" + s + "%22%0A"} }},
		{"query string", func(s string) map[string]any {
			return map[string]any{"url": "https://x.example/cb?" + url.Values{"access": {s}}.Encode()}
		}},
		{"nested object", func(s string) map[string]any {
			return map[string]any{"payload": map[string]any{"meta": map[string]any{"memo": s}}}
		}},
		{"list", func(s string) map[string]any { return map[string]any{"lines": []string{"a", s, "b"}} }},
		{"list of objects", func(s string) map[string]any {
			return map[string]any{"msgs": []map[string]any{{"text": "x"}, {"text": "see " + s}}}
		}},
		{"struct field", func(s string) map[string]any {
			return map[string]any{"mail": struct{ To, Body string }{"a@b", s}}
		}},
		{"member name", func(s string) map[string]any { return map[string]any{"headers": map[string]any{s: "1"}} }},
		{"escaped in raw JSON", func(s string) map[string]any {
			return map[string]any{"raw": json.RawMessage(`{"v":"\u00` + fmt.Sprintf("%x", s[0]) + s[1:] + `"}`)}
		}},
	}
	for _, cr := range creds {
		for _, pl := range placements {
			t.Run(cr.kind+"/"+pl.name+"/audit", func(t *testing.T) {
				attrs := pl.attrs(cr.secret)
				d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "notes.write", Attributes: attrs})
				if err != nil || d.Effect != agenttrust.Deny {
					t.Fatalf("check: %v %v", d, err)
				}
				rec := recordOf(t, f, d.ID)
				assertRedacted(t, string(rec.Attributes), cr.secret)
			})
			t.Run(cr.kind+"/"+pl.name+"/approval", func(t *testing.T) {
				attrs := pl.attrs(cr.secret)
				attrs["to"] = fmt.Sprintf("%s-%s@example.com", strings.ReplaceAll(cr.kind, " ", "-"), strings.ReplaceAll(pl.name, " ", "-"))
				d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "mail.send", Attributes: attrs})
				if err != nil || d.Effect != agenttrust.NeedsApproval || d.ApprovalID == "" {
					t.Fatalf("check: %v %v", d, err)
				}
				as, err := f.c.Approvals(ctx, agenttrust.ApprovalFilter{})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, a := range as {
					if a.ID == d.ApprovalID {
						found = true
						assertRedacted(t, string(a.Attributes), cr.secret)
					}
				}
				if !found {
					t.Fatalf("approval %s not stored", d.ApprovalID)
				}
				assertRedacted(t, string(recordOf(t, f, d.ID).Attributes), cr.secret)
			})
		}
	}

	// The policy decided on the value as given: the rule that names the
	// foreign JWT denies, while the record shows it redacted.
	t.Run("policy sees the original value", func(t *testing.T) {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "notes.write", Attributes: map[string]any{"note": foreignJWT}})
		if err != nil || d.Effect != agenttrust.Deny || d.Rule != "no-foreign-jwt" {
			t.Fatalf("check: %v %v", d, err)
		}
		assertRedacted(t, string(recordOf(t, f, d.ID).Attributes), foreignJWT)
	})

	// Look-alikes that are no credential stay as they are.
	for _, tc := range []struct{ name, value string }{
		{"api key with a bad checksum", key[:len(key)-1] + flip(key[len(key)-1])},
		{"api key cut short", key[:len(key)-1]},
		{"token prefix and a word", "att_tendance"},
		{"token prefix with text not a macaroon", "att_" + strings.Repeat("Q", 40)},
		{"eyJ and no dots", "eyJhbGciOiJIUzI1NiJ9"},
		{"three segments whose header has no alg", "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln"},
		{"three segments of junk", "eyJ!!.x.y"},
	} {
		t.Run("kept "+tc.name, func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "notes.write", Attributes: map[string]any{"note": tc.value}})
			if err != nil || d.Effect != agenttrust.Deny {
				t.Fatalf("check: %v %v", d, err)
			}
			attrs := string(recordOf(t, f, d.ID).Attributes)
			want, _ := json.Marshal(map[string]string{"note": tc.value})
			if attrs != string(want) {
				t.Errorf("attributes %s, want %s", attrs, want)
			}
		})
	}
}

// recordOf returns the audit record of decision id.
func recordOf(t *testing.T, f *fixture, id agenttrust.DecisionID) agenttrust.AuditRecord {
	t.Helper()
	for _, r := range f.records(t) {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no audit record of decision %s", id)
	return agenttrust.AuditRecord{}
}

// assertRedacted fails unless attrs is JSON, holds no trace of secret
// (not even its tail, which holds a key's checksum or a token's
// signature) and says where it was redacted.
func assertRedacted(t *testing.T, attrs, secret string) {
	t.Helper()
	if !json.Valid([]byte(attrs)) {
		t.Fatalf("attributes are not JSON: %s", attrs)
	}
	if strings.Contains(attrs, secret[len(secret)-16:]) {
		t.Errorf("the credential is in the attributes: %s", attrs)
	}
	if !strings.Contains(attrs, "[redacted credential]") {
		t.Errorf("no redaction mark in %s", attrs)
	}
}
