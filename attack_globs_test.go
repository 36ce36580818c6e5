package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// globPolicy allows mail.read on one mailbox and mail.archive on any
// resource: refused resources are refused whatever the rules say.
const globPolicy = `
rules:
  - id: alice-mail
    effect: allow
    tools: [mail.read]
    resources: ["mailbox:alice/*"]
  - id: archive-anything
    effect: allow
    tools: [mail.archive]
`

// segmentPolicy tells '*' from "**".
const segmentPolicy = `
rules:
  - id: alice-mail
    effect: allow
    tools: [mail.read]
    resources: ["mailbox:alice/*"]
  - id: alice-archive
    effect: allow
    tools: [mail.archive]
    resources: ["mailbox:alice/**"]
`

// TestAttackGlobs: a resource glob cannot be walked out of. Resources
// with dot segments (raw, percent-encoded in any case or depth, as
// look-alikes), backslashes or encoded separators are refused; '*' stays
// within one segment and "**" crosses segments.
func TestAttackGlobs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, globPolicy)
	refused := map[string]string{
		"dotdot":                   "mailbox:alice/../bob/inbox",
		"dot":                      "mailbox:alice/./inbox",
		"trailing_dotdot":          "mailbox:alice/..",
		"trailing_dot":             "mailbox:alice/.",
		"leading_dotdot":           "../mailbox:bob/inbox",
		"after_colon":              "mailbox:../bob/inbox",
		"only_dotdot":              "..",
		"encoded_lower":            "mailbox:alice/%2e%2e/bob",
		"encoded_upper":            "mailbox:alice/%2E%2E/bob",
		"encoded_mixed":            "mailbox:alice/%2e%2E/bob",
		"encoded_half":             "mailbox:alice/.%2e/bob",
		"encoded_half_other":       "mailbox:alice/%2e./bob",
		"encoded_single_dot":       "mailbox:alice/%2e/inbox",
		"double_encoded":           "mailbox:alice/%252e%252e/bob",
		"double_encoded_upper":     "mailbox:alice/%252E%252E/bob",
		"triple_encoded":           "mailbox:alice/%25252e%25252e/bob",
		"deeply_encoded":           "mailbox:alice/%2525252525252e%2525252525252e/bob",
		"iis_unicode_escape":       "mailbox:alice/%u002e%u002e/bob",
		"encoded_slash":            "mailbox:alice/x%2fy",
		"encoded_slash_upper":      "mailbox:alice/x%2Fy",
		"encoded_slash_dotdot":     "mailbox:alice/..%2fbob",
		"double_encoded_slash":     "mailbox:alice/x%252fy",
		"backslash":                `mailbox:alice/..\bob`,
		"backslash_plain":          `mailbox:alice\inbox`,
		"encoded_backslash":        "mailbox:alice/..%5cbob",
		"encoded_backslash_upper":  "mailbox:alice/x%5Cy",
		"overlong_utf8_dot":        "mailbox:alice/%c0%ae%c0%ae/bob",
		"fullwidth_dots":           "mailbox:alice/\uff0e\uff0e/bob",
		"one_dot_leaders":          "mailbox:alice/\u2024\u2024/bob",
		"fullwidth_solidus":        "mailbox:alice/x\uff0fy",
		"zero_width_in_resource":   "mailbox:alice/in\u200bbox",
		"bidi_in_resource":         "mailbox:alice/\u202einbox",
		"nbsp_in_resource":         "mailbox:alice/in\u00a0box",
		"encoded_fullwidth_dots":   "mailbox:alice/%ef%bc%8e%ef%bc%8e/bob",
		"dotdot_archive":           "mailbox:alice/../../etc/passwd",
		"encoded_dotdot_in_middle": "mailbox:alice/a/%2e%2e/%2e%2e/bob",
	}
	for name, res := range refused {
		for _, tool := range []string{"mail.read", "mail.archive"} {
			t.Run(name+"/"+tool, func(t *testing.T) {
				d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: tool, Resource: res})
				if !errors.Is(err, agenttrust.ErrInvalidRequest) || d.Effect != agenttrust.Deny {
					t.Fatalf("%q: got %+v, %v; want Deny with ErrInvalidRequest", res, d, err)
				}
			})
		}
	}
	// '*' within one segment, "**" across: both as decisions.
	segments := []struct {
		name, tool, res string
		allow           bool
	}{
		{"star_one_segment", "mail.read", "mailbox:alice/inbox", true},
		{"star_empty_segment", "mail.read", "mailbox:alice/", true},
		{"star_not_two_segments", "mail.read", "mailbox:alice/inbox/2024", false},
		{"star_not_parent", "mail.read", "mailbox:alice", false},
		{"star_not_sibling", "mail.read", "mailbox:alicex/inbox", false},
		{"doublestar_one_segment", "mail.archive", "mailbox:alice/inbox", true},
		{"doublestar_deep", "mail.archive", "mailbox:alice/inbox/2024/05", true},
		{"doublestar_not_sibling", "mail.archive", "mailbox:alice2/inbox", false},
		{"doublestar_not_parent", "mail.archive", "mailbox:alice", false},
		{"percent_literal_ok", "mail.read", "mailbox:alice/50%25off", true},
		{"dots_in_name_ok", "mail.read", "mailbox:alice/report..v2", true},
		{"star_in_value_literal", "mail.read", "mailbox:alice/*", true},
	}
	for _, tt := range segments {
		t.Run("segments/"+tt.name, func(t *testing.T) {
			f := newFixture(t, segmentPolicy)
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: tt.tool, Resource: tt.res})
			if err != nil || d.Allowed() != tt.allow {
				t.Fatalf("%s %q: got %+v, %v; want allowed=%v", tt.tool, tt.res, d, err, tt.allow)
			}
			if !tt.allow && d.Effect != agenttrust.Deny {
				t.Fatalf("want Deny, got %v", d.Effect)
			}
		})
	}
}

// TestAttackGlobsInPolicies: policies and caveats cannot name what a
// request can never be: dot segments in resource globs are refused when
// the policy or caveat is parsed.
func TestAttackGlobsInPolicies(t *testing.T) {
	pats := map[string]string{
		"dotdot":          "mailbox:alice/../*",
		"dot":             "mailbox:alice/./*",
		"encoded":         "mailbox:alice/%2e%2e/*",
		"encoded_upper":   "mailbox:alice/%2E%2E/*",
		"double_encoded":  "mailbox:alice/%252e%252e/*",
		"encoded_slash":   "mailbox:alice%2f*",
		"backslash":       `mailbox:alice\\*`,
		"fullwidth_dots":  "mailbox:alice/\uff0e\uff0e/*",
		"triple_star":     "mailbox:alice/***",
		"quadruple_star":  "mailbox:alice/****",
		"zero_width":      "mailbox:al\u200bice/*",
		"reserved_braces": "mailbox:{alice}/*",
	}
	for name, pat := range pats {
		t.Run("policy/"+name, func(t *testing.T) {
			_, err := agenttrust.ParsePolicy([]byte(`{"rules":[{"id":"r","effect":"allow","resources":[`+jsonString(pat)+`]}]}`), "json")
			var pe *agenttrust.PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, agenttrust.ErrInvalidPolicy) || pe.Rule != "r" {
				t.Fatalf("%q: got %v, want a *PolicyError for rule r", pat, err)
			}
		})
		t.Run("when/"+name, func(t *testing.T) {
			_, err := agenttrust.ParsePolicy([]byte(`{"rules":[{"id":"r","effect":"deny","when":[`+jsonString("resource in "+quoteCond(pat))+`]}]}`), "json")
			if !errors.Is(err, agenttrust.ErrInvalidPolicy) {
				t.Fatalf("%q: got %v, want ErrInvalidPolicy", pat, err)
			}
		})
		t.Run("caveat/"+name, func(t *testing.T) {
			if _, err := agenttrust.Attenuate(testToken(t), "resource in "+quoteCond(pat)); err == nil {
				t.Fatalf("Attenuate with %q: no error", pat)
			}
		})
	}
	for name, val := range map[string]string{"dotdot": "mailbox:alice/../bob", "encoded": "mailbox:alice/%2e%2e/bob", "backslash": `mailbox:alice\bob`} {
		t.Run("resource_eq/"+name, func(t *testing.T) {
			_, err := agenttrust.ParsePolicy([]byte(`{"rules":[{"id":"r","effect":"allow","when":[`+jsonString("resource = "+quoteCond(val))+`]}]}`), "json")
			if !errors.Is(err, agenttrust.ErrInvalidPolicy) {
				t.Fatalf("%q: got %v, want ErrInvalidPolicy", val, err)
			}
		})
	}
}

// TestAttackGlobsIndexedDenies: a deny rule among hundreds of allow rules
// of the same agent and tool, which the engine splits by resource
// pattern, still denies every resource it names, whatever the shape of
// its pattern (a literal, a longer or shorter literal prefix than the
// allows', a leading '*' or "**") and however the allows are filed.
func TestAttackGlobsIndexedDenies(t *testing.T) {
	var p agenttrust.Policy
	for i := range 300 {
		p.Rules = append(p.Rules, agenttrust.Rule{ID: fmt.Sprint("allow-", i), Effect: agenttrust.Allow,
			Agents: []string{"a1"}, Tools: []string{"mail.read"}, Resources: []string{fmt.Sprintf("mailbox:user-%d/*", i)}})
	}
	denies := map[string]string{
		"literal":        "mailbox:user-7/secret",
		"longer_prefix":  "mailbox:user-8/secret-*",
		"shorter_prefix": "mailbox:*/vault",
		"lead_star":      "*/keys",
		"any_depth":      "**/tokens",
		"same_prefix":    "mailbox:user-9/*",
	}
	for id, pat := range denies {
		p.Rules = append(p.Rules, agenttrust.Rule{ID: "deny-" + id, Effect: agenttrust.Deny,
			Agents: []string{"a1"}, Tools: []string{"mail.read"}, Resources: []string{pat}})
	}
	e, err := agenttrust.NewRuleEngine(&p)
	if err != nil {
		t.Fatal(err)
	}
	for resource, rule := range map[string]string{
		"mailbox:user-7/secret":       "deny-literal",
		"mailbox:user-8/secret-plans": "deny-longer_prefix",
		"mailbox:user-8/secret-":      "deny-longer_prefix",
		"mailbox:user-12/vault":       "deny-shorter_prefix",
		"mailbox:user-13/keys":        "deny-lead_star",
		"mailbox:user-14/a/b/tokens":  "deny-any_depth",
		"mailbox:user-9/inbox":        "deny-same_prefix",
		"mailbox:user-10/inbox":       "allow-10",
		"mailbox:user-7/secrets":      "allow-7",
	} {
		t.Run(resource, func(t *testing.T) {
			res, err := e.Evaluate(context.Background(), &agenttrust.PolicyInput{AgentID: "a1", Tool: "mail.read", Resource: resource})
			if err != nil || res.Rule != rule {
				t.Fatalf("%s: %v %q %v, want rule %s", resource, res.Effect, res.Rule, err, rule)
			}
			if strings.HasPrefix(rule, "deny-") && res.Effect != agenttrust.Deny {
				t.Fatalf("%s: %v by %s, want a deny", resource, res.Effect, rule)
			}
		})
	}
}
