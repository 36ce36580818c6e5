package storeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust/internal/strictjson"
)

// Strict JSON decoding lives in internal/strictjson, shared with the
// policy loader.

type schema = strictjson.Schema

// errStrict marks a document that breaks the wire format.
var errStrict = strictjson.ErrMalformed

func schemaOf(t reflect.Type) *schema { return strictjson.SchemaOf(t) }

// decodeStrict decodes data, one JSON value of schema s, into v. It
// refuses invalid UTF-8, unknown, duplicate or differently cased keys,
// missing required keys, null where a value is due and trailing data.
func decodeStrict(data []byte, s *schema, v any) error {
	return strictjson.Decode(data, s, v, false)
}

// DecodeJSON decodes data into v, a pointer to a struct with json tags,
// as strictly as the store API: valid UTF-8, one JSON value, no duplicate
// or differently cased keys, every field without omitempty or omitzero
// present and not null (unless a slice, map, pointer or interface). With
// allowUnknown, keys v has no field for are skipped rather than refused,
// so an answer may grow new fields; a key matching a field only when case
// is ignored is still refused. Numbers in maps and interfaces decode as
// json.Number.
func DecodeJSON(data []byte, v any, allowUnknown bool) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return fmt.Errorf("%s DecodeJSON needs a pointer, not %T", prefix, v)
	}
	return strictjson.Decode(data, strictjson.SchemaOf(t.Elem()), v, allowUnknown)
}

// EncodeJSON encodes v as the store API does: without HTML escaping, and
// refusing strings that are not valid UTF-8 (JSON would change them). It
// appends no newline.
func EncodeJSON(v any) ([]byte, error) {
	b, err := encode(v)
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b, []byte("\n")), nil
}

// encode marshals v without HTML escaping, so raw JSON values (audit
// attributes) go out byte for byte. It refuses strings that are not valid
// UTF-8, which JSON could not carry unchanged.
func encode(v any) ([]byte, error) {
	if err := checkUTF8(reflect.ValueOf(v), 0); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkUTF8 reports the first string in v that is not valid UTF-8, by its
// place, never its value (it may be a credential). Byte slices are not
// strings: they travel as base64 or, when they are compact valid JSON,
// raw.
func checkUTF8(v reflect.Value, depth int) error {
	return checkUTF8At(v, "$", depth)
}

func checkUTF8At(v reflect.Value, at string, depth int) error {
	if depth > 64 {
		return errors.New("value nested too deeply")
	}
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Errorf("the string at %s is not valid UTF-8", at)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return checkUTF8At(v.Elem(), at, depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if err := checkUTF8At(v.Field(i), at+"."+name, depth+1); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := range v.Len() {
			if err := checkUTF8At(v.Index(i), fmt.Sprintf("%s[%d]", at, i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := checkUTF8At(it.Key(), at+" (a key)", depth+1); err != nil {
				return err
			}
			if err := checkUTF8At(it.Value(), at+"[...]", depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// rawJSON reports whether b can travel as a raw JSON value and come back
// byte for byte: valid, compact, UTF-8 JSON.
func rawJSON(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) || !json.Valid(b) {
		return false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return false
	}
	return bytes.Equal(buf.Bytes(), b)
}
