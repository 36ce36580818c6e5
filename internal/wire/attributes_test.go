package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

func decodeAttrs(data []byte) (Attributes, error) {
	var r CheckRequest
	err := jsonv2.Unmarshal(append(append([]byte(`{"tool_name":"t","attributes":`), data...), '}'), &r, jsonv2.RejectUnknownMembers(true))
	return r.Attributes, err
}

func TestAttributesKeepNumberText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Attributes
	}{
		{`{"n":12345678901234567}`, Attributes{"n": json.Number("12345678901234567")}},
		{`{"n":100.000000000000001,"e":1e400,"z":-0}`, Attributes{"n": json.Number("100.000000000000001"), "e": json.Number("1e400"), "z": json.Number("-0")}},
		{`{"l":[1,"a",true,null,{"x":2.50}]}`, Attributes{"l": []any{json.Number("1"), "a", true, nil, map[string]any{"x": json.Number("2.50")}}}},
		{`{"s":"\u00e9","o":{}, "a":[]}`, Attributes{"s": "é", "o": map[string]any{}, "a": []any{}}},
		{`{}`, Attributes{}},
		{`null`, nil},
	} {
		got, err := decodeAttrs([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{`5`, `"x"`, `[1]`, `true`, `{"a":1,"a":2}`, `{"a":"\xff"}`, `{"a":01}`, `{"a":[1,]}`, `{"a"}`} {
		if got, err := decodeAttrs([]byte(in)); err == nil {
			t.Errorf("%s: %#v, want an error", in, got)
		}
	}
}

// FuzzAttributes: whatever Attributes accepts, encoding/json with
// UseNumber reads the same; it never panics.
func FuzzAttributes(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":[1,{"b":null}],"c":"d"}`, `{"n":-1.5e-7}`, `null`, `[]`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeAttrs(data)
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("Attributes accepted %q, encoding/json refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(map[string]any(got), want) {
			t.Fatalf("%q: %#v, encoding/json %#v", data, got, want)
		}
	})
}
