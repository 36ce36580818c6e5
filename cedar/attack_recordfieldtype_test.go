package cedar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackRecordFieldOtherType: == compares a record field by field
// with Cedar's ==, which finds values of two types unequal without an
// error. A forbid written context.attr.payee == {"bank": "evil",
// "account": 123} was skipped for {"bank": "evil", "account": "123"},
// while a tool reading the account number from text pays the very
// account the forbid names. A request whose field, under a record a
// policy compares with a record literal, has another type than the
// literal's field is now refused with a *RequestError.
func TestAttackRecordFieldOtherType(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	for _, tc := range []struct {
		name, policy string
		attrs        map[string]any
	}{
		{"text for a Long", `@id("stop") forbid (principal, action, resource) when { context.attr.payee == {"bank": "evil", "account": 123} };` + permit,
			map[string]any{"payee": map[string]any{"bank": "evil", "account": "123"}}},
		{"literal on the left, a list for a string", `@id("stop") forbid (principal, action, resource) when { {"bank": "evil", "account": 123} == context.attr.payee };` + permit,
			map[string]any{"payee": map[string]any{"bank": []any{"evil"}, "account": 123}}},
		{"nested record", `@id("stop") forbid (principal, action, resource) when { context.attr.payee == {"to": {"account": 123}} };` + permit,
			map[string]any{"payee": map[string]any{"to": map[string]any{"account": "123"}}}},
		{"permit unless", `@id("all") permit (principal, action, resource) unless { context.attr.order == {"id": 5} };`,
			map[string]any{"order": map[string]any{"id": "5"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			in := req("bot", "t", "r")
			in.Attributes = tc.attrs
			res, err := e.Evaluate(context.Background(), &in)
			var re *cedar.RequestError
			if res.Effect != agenttrust.Deny || !errors.As(err, &re) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("Evaluate: %v by %q (%v); want a deny with a *cedar.RequestError", res.Effect, res.Rule, err)
			}
		})
	}
	// Fields of the literal's types are judged as Cedar judges them.
	e, err := cedar.Parse("p.cedar", []byte(`@id("stop") forbid (principal, action, resource) when { context.attr.payee == {"bank": "evil", "account": 123} };`+permit))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		payee map[string]any
		want  agenttrust.Effect
	}{
		{map[string]any{"bank": "evil", "account": 123}, deny},
		{map[string]any{"bank": "evil", "account": 124}, allow},
		{map[string]any{"bank": "evil", "account": 123, "memo": []any{1}}, allow},
	} {
		in := req("bot", "t", "r", "payee", tc.payee)
		if res, err := e.Evaluate(context.Background(), &in); res.Effect != tc.want || err != nil {
			t.Errorf("%v: %v by %q (%v); want %v", tc.payee, res.Effect, res.Rule, err, tc.want)
		}
	}
}
