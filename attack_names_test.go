package agenttrust_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// nameSpoofs are ways to write a name that looks like, or is shown like,
// another. Each changes every name of spoofBase.
var nameSpoofs = map[string]func(string) string{
	"zero_width_space":      func(s string) string { return s[:3] + "\u200b" + s[3:] },
	"zero_width_joiner":     func(s string) string { return s[:3] + "\u200d" + s[3:] },
	"zero_width_non_joiner": func(s string) string { return s[:3] + "\u200c" + s[3:] },
	"word_joiner":           func(s string) string { return s + "\u2060" },
	"bom":                   func(s string) string { return "\ufeff" + s },
	"soft_hyphen":           func(s string) string { return s[:3] + "\u00ad" + s[3:] },
	"nbsp":                  func(s string) string { return s + "\u00a0" },
	"narrow_nbsp":           func(s string) string { return s + "\u202f" },
	"ideographic_space":     func(s string) string { return s + "\u3000" },
	"ascii_space":           func(s string) string { return s + " " },
	"tab":                   func(s string) string { return s + "\t" },
	"bidi_rlo":              func(s string) string { return "\u202e" + s },
	"bidi_lri":              func(s string) string { return "\u2067" + s + "\u2069" },
	"bidi_rlm":              func(s string) string { return s + "\u200f" },
	"cyrillic_a":            func(s string) string { return strings.Replace(s, "a", "\u0430", 1) },
	"cyrillic_e":            func(s string) string { return strings.Replace(s, "e", "\u0435", 1) },
	"cyrillic_o":            func(s string) string { return strings.Replace(s, "o", "\u043e", 1) },
	"greek_omicron":         func(s string) string { return strings.Replace(s, "o", "\u03bf", 1) },
	"greek_iota":            func(s string) string { return strings.Replace(s, "i", "\u03b9", 1) },
	"fullwidth_letter":      func(s string) string { return "\uff50" + s[1:] },
	"fullwidth_dot":         func(s string) string { return strings.Replace(s, ".", "\uff0e", 1) },
	"fullwidth_hyphen":      func(s string) string { return strings.Replace(s, "-", "\uff0d", 1) },
	"combining_acute":       func(s string) string { return s[:1] + "\u0301" + s[1:] },
	"combining_dot_above":   func(s string) string { return s + "\u0307" },
	"precomposed_accent":    func(s string) string { return "\u00e1" + s[1:] },
	"mathematical_bold":     func(s string) string { return "\U0001d429" + s[1:] },
	"ligature_fi":           func(s string) string { return s + "\ufb01" },
	"tag_character":         func(s string) string { return s + "\U000e0041" },
	"variation_selector":    func(s string) string { return s + "\ufe0f" },
	"hangul_filler":         func(s string) string { return s + "\u3164" },
	"ascii_star":            func(s string) string { return s + "*" },
	"ascii_backslash":       func(s string) string { return s + `\` },
	"ascii_quote":           func(s string) string { return s + `"` },
	"ascii_comma":           func(s string) string { return s + "," },
	"too_long":              func(s string) string { return s + strings.Repeat("x", 300) },
}

// spoofBase holds names with every character a spoof replaces.
var spoofBase = agenttrust.Request{AgentID: "ai-agent.one", Tool: "ops.file-transfer-api", SessionID: "sess.ai-one", OnBehalfOf: "alice.o-ne@example.com"}

// TestAttackNames: tool, agent, session and on-behalf-of names have one
// canonical form; anything else is refused before it can dodge an exact
// deny rule or open a rate-limit bucket of its own.
func TestAttackNames(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `
rules:
  - id: no-transfers
    effect: deny
    tools: [ops.file-transfer-api]
  - id: open
    effect: allow
limits:
  - id: slow
    rate: 1/h
`)
	base := spoofBase
	fields := map[string]func(*agenttrust.Request, func(string) string){
		"tool":         func(r *agenttrust.Request, f func(string) string) { r.Tool = f(r.Tool) },
		"agent":        func(r *agenttrust.Request, f func(string) string) { r.AgentID = f(r.AgentID) },
		"session":      func(r *agenttrust.Request, f func(string) string) { r.SessionID = f(r.SessionID) },
		"on_behalf_of": func(r *agenttrust.Request, f func(string) string) { r.OnBehalfOf = f(r.OnBehalfOf) },
	}
	for field, set := range fields {
		for name, spoof := range nameSpoofs {
			t.Run(field+"/"+name, func(t *testing.T) {
				req := base
				set(&req, spoof)
				if req.AgentID == base.AgentID && req.Tool == base.Tool && req.SessionID == base.SessionID && req.OnBehalfOf == base.OnBehalfOf {
					t.Fatal("the spoof changes nothing")
				}
				d, err := f.c.Check(ctx, req)
				if !errors.Is(err, agenttrust.ErrInvalidRequest) || d.Effect != agenttrust.Deny {
					t.Fatalf("%q: got %+v, %v; want Deny with ErrInvalidRequest", req, d, err)
				}
			})
		}
	}
	// The canonical names still work.
	t.Run("canonical", func(t *testing.T) {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "billing-bot", Tool: "mail.read", SessionID: "sess-1", OnBehalfOf: "alice+ops@example.com"})
		if err != nil || !d.Allowed() {
			t.Fatalf("got %+v, %v", d, err)
		}
	})
}

// TestAttackNamesInPolicies: a policy or caveat cannot name an agent or
// tool no request can be.
func TestAttackNamesInPolicies(t *testing.T) {
	tok := testToken(t)
	for name, spoof := range nameSpoofs {
		if name == "ascii_star" || name == "ascii_comma" || name == "ascii_quote" || name == "ascii_space" || name == "tab" {
			continue // glob syntax or list syntax, not a name
		}
		for _, field := range []string{"tools", "agents"} {
			t.Run(field+"/"+name, func(t *testing.T) {
				doc := `{"rules":[{"id":"r","effect":"deny","` + field + `":[` + jsonString(spoof(spoofBase.Tool)) + `]}]}`
				_, err := agenttrust.ParsePolicy([]byte(doc), "json")
				if !errors.Is(err, agenttrust.ErrInvalidPolicy) {
					t.Fatalf("got %v, want ErrInvalidPolicy", err)
				}
			})
		}
		for _, field := range []string{"tool", "agent", "session", "on_behalf_of"} {
			t.Run("caveat_"+field+"/"+name, func(t *testing.T) {
				if _, err := agenttrust.Attenuate(tok, field+" = "+quoteCond(spoof(spoofBase.AgentID))); err == nil {
					t.Fatal("Attenuate accepted a non-canonical name")
				}
			})
		}
	}
	t.Run("limits/zero_width", func(t *testing.T) {
		_, err := agenttrust.ParsePolicy([]byte("rules: []\nlimits:\n  - id: l\n    rate: 1/s\n    tools: [\"pay\u200bments.*\"]\n"), "yaml")
		if !errors.Is(err, agenttrust.ErrInvalidPolicy) {
			t.Fatalf("got %v, want ErrInvalidPolicy", err)
		}
	})
}

// testToken mints a token for offline attenuation.
func testToken(t *testing.T) string {
	t.Helper()
	f := newFixture(t, "rules: []\n")
	secret, _, err := f.c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// quoteCond quotes a condition value (Go syntax, as the grammar reads it).
func quoteCond(s string) string { return strconv.Quote(s) }

// TestAttackNamesInKeys: the agent a key names acts in every check made
// with the key, bypassing the request's own name check, so a key cannot be
// made for a name outside the canonical form.
func TestAttackNamesInKeys(t *testing.T) {
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
	ctx := context.Background()
	for name, spoof := range nameSpoofs {
		t.Run(name, func(t *testing.T) {
			agent := spoof(spoofBase.AgentID)
			secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: agent})
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || secret != "" {
				t.Fatalf("CreateKey for agent %q: %v; want ErrInvalidRequest and no key", agent, err)
			}
		})
	}
	t.Run("canonical", func(t *testing.T) {
		if _, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: spoofBase.AgentID}); err != nil {
			t.Fatal(err)
		}
	})
}
