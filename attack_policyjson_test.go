package agenttrust_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackPolicyJSON: a policy document means one thing. Duplicate,
// differently cased and unknown keys, which a lenient decoder resolves
// silently (last wins, case ignored), are refused with an error naming
// the key.
func TestAttackPolicyJSON(t *testing.T) {
	tests := []struct {
		name, format, doc, key string
	}{
		{"duplicate_rules", "json", `{"rules":[{"id":"d","effect":"deny"}],"rules":[{"id":"a","effect":"allow"}]}`, "rules"},
		{"duplicate_default", "json", `{"default":"deny","rules":[],"default":"allow"}`, "default"},
		{"duplicate_effect", "json", `{"rules":[{"id":"r","effect":"deny","effect":"allow"}]}`, "effect"},
		{"duplicate_id", "json", `{"rules":[{"id":"r","id":"s","effect":"deny"}]}`, "id"},
		{"duplicate_tools", "json", `{"rules":[{"id":"r","effect":"deny","tools":["payments.*"],"tools":["none"]}]}`, "tools"},
		{"duplicate_when", "json", `{"rules":[{"id":"r","effect":"deny","when":["attr.amount > 5"],"when":[]}]}`, "when"},
		{"duplicate_limit_rate", "json", `{"rules":[],"limits":[{"id":"l","rate":"1/s","rate":"1000000/s"}]}`, "rate"},
		{"duplicate_by_escape", "json", `{"rules":[{"id":"r","effect":"deny","eff\u0065ct":"allow"}]}`, "effect"},
		{"case_variant_top", "json", `{"Rules":[{"id":"a","effect":"allow"}]}`, "Rules"},
		{"case_variant_upper", "json", `{"RULES":[{"id":"a","effect":"allow"}],"rules":[]}`, "RULES"},
		{"case_variant_after", "json", `{"rules":[{"id":"r","effect":"deny","Effect":"allow"}]}`, "Effect"},
		{"case_variant_default", "json", `{"rules":[],"Default":"allow"}`, "Default"},
		{"case_variant_id", "json", `{"rules":[{"iD":"r","effect":"deny"}]}`, "iD"},
		{"unicode_fold_long_s", "json", `{"rule\u017f":[{"id":"a","effect":"allow"}]}`, "rule\u017f"},
		{"unicode_fold_kelvin", "json", `{"rules":[],"limits":[{"id":"l","rate":"1/s","\u212aurst":5}]}`, "\u212aurst"},
		{"unknown_key", "json", `{"rules":[{"id":"r","effect":"deny","tool":["x"]}]}`, "tool"},
		{"unknown_top", "json", `{"rules":[],"policy":"allow-all"}`, "policy"},
		{"missing_effect", "json", `{"rules":[{"id":"r","tools":["x"]}]}`, "effect"},
		{"missing_rules", "json", `{"default":"allow"}`, "rules"},
		{"invalid_utf8_key", "json", "{\"rules\":[],\"x\xff\":1}", "UTF-8"},
		{"invalid_utf8_value", "json", "{\"rules\":[{\"id\":\"r\xff\",\"effect\":\"deny\"}]}", "UTF-8"},
		{"trailing_object", "json", `{"rules":[]}{"rules":[{"id":"a","effect":"allow"}]}`, "trailing"},
		{"null_effect", "json", `{"rules":[{"id":"r","effect":null}]}`, "effect"},
		{"yaml_duplicate_effect", "yaml", "rules:\n  - id: r\n    effect: deny\n    effect: allow\n", "effect"},
		{"yaml_duplicate_rules", "yaml", "rules: []\nrules:\n  - id: a\n    effect: allow\n", "rules"},
		{"yaml_case_variant", "yaml", "Rules:\n  - id: a\n    effect: allow\n", "Rules"},
		{"yaml_case_variant_field", "yaml", "rules:\n  - id: r\n    effect: deny\n    Effect: allow\n", "Effect"},
		{"yaml_unknown_key", "yaml", "rules:\n  - id: r\n    effect: deny\n    tool: [x]\n", "tool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := agenttrust.ParsePolicy([]byte(tt.doc), tt.format)
			var pe *agenttrust.PolicyError
			if p != nil || !errors.As(err, &pe) || !errors.Is(err, agenttrust.ErrInvalidPolicy) {
				t.Fatalf("got %v, %v; want a *PolicyError", p, err)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error %q does not name %q", err, tt.key)
			}
		})
	}
}

// TestAttackPolicyTypes: validation says where a condition compares an
// attribute with a value it can never match.
func TestAttackPolicyTypes(t *testing.T) {
	tests := []struct {
		name, doc, msg string
	}{
		{"number_and_string", "rules:\n  - id: a\n    effect: deny\n    when: ['attr.amount > 1000']\n  - id: b\n    effect: allow\n    when: ['attr.amount = high']\n", "attr.amount"},
		{"number_and_bool", "rules:\n  - id: a\n    effect: deny\n    when: ['attr.amount > 1000', 'attr.amount = true']\n", "attr.amount"},
		{"string_and_number", "rules:\n  - id: a\n    effect: allow\n    when: ['attr.country in FR,DE']\n  - id: b\n    effect: deny\n    when: ['attr.country = 5']\n", "attr.country"},
		{"in_numbers", "rules:\n  - id: a\n    effect: deny\n    when: ['attr.amount in 1,2,3']\n", "quote it"},
		{"in_bool", "rules:\n  - id: a\n    effect: deny\n    when: ['attr.force in true']\n", "quote it"},
		{"too_precise", "rules:\n  - id: a\n    effect: deny\n    when: ['attr.amount > 1000.0000000000000001']\n", "significant digits"},
		{"string_compared_less", "rules:\n  - id: a\n    effect: deny\n    when: ['attr.amount > \"1000\"']\n", "strings compare only"},
		{"tool_eq_not_name", "rules:\n  - id: a\n    effect: deny\n    when: ['tool = \"pay\u200bments\"']\n", "not a valid name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := agenttrust.ParsePolicy([]byte(tt.doc), "yaml")
			if !errors.Is(err, agenttrust.ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v; want ErrInvalidPolicy mentioning %q", err, tt.msg)
			}
		})
	}
}
