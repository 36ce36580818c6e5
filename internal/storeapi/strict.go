package storeapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Strict JSON. encoding/json (v1) is lenient where a wire format must not
// be: it matches keys case-insensitively, lets a later duplicate key win,
// treats null as "leave unchanged" and replaces invalid UTF-8 silently.
// A schema derived once from each wire type closes those gaps: decode
// first walks the document against the schema, then lets encoding/json
// (with DisallowUnknownFields) fill the value.

// schemaKind says how a JSON value is checked.
type schemaKind uint8

const (
	kindLeaf   schemaKind = iota // string, number, bool or text: one token
	kindObject                   // a struct: exact keys, no duplicates, required keys present
	kindArray                    // a slice of non-bytes
	kindRaw                      // a map, an interface or json.RawMessage: any valid JSON
)

// schema is what one JSON value must look like.
type schema struct {
	kind     schemaKind
	nullable bool               // null is allowed (slices, byte slices, pointers, raw)
	fields   map[string]*schema // kindObject: by exact key
	required []string           // kindObject: keys without omitempty or omitzero
	elem     *schema            // kindArray
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessage      = reflect.TypeFor[json.RawMessage]()
)

// schemaOf derives the schema of t, a wire type of this package.
func schemaOf(t reflect.Type) *schema {
	if t == rawMessage {
		return &schema{kind: kindRaw, nullable: true}
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		return &schema{kind: kindLeaf}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := *schemaOf(t.Elem())
		s.nullable = true
		return &s
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &schema{kind: kindLeaf, nullable: true} // base64
		}
		return &schema{kind: kindArray, nullable: true, elem: schemaOf(t.Elem())}
	case reflect.Map, reflect.Interface:
		return &schema{kind: kindRaw, nullable: true}
	case reflect.Struct:
		s := &schema{kind: kindObject, fields: map[string]*schema{}}
		for f := range t.Fields() {
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				panic("storeapi: wire field without a json name: " + t.String() + "." + f.Name)
			}
			s.fields[name] = schemaOf(f.Type)
			if !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero") {
				s.required = append(s.required, name)
			}
		}
		return s
	}
	return &schema{kind: kindLeaf}
}

func hasOpt(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// errStrict marks a document that breaks the wire format.
var errStrict = errors.New("malformed JSON")

// decodeStrict decodes data, one JSON value of schema s, into v. It
// refuses invalid UTF-8, unknown, duplicate or differently cased keys,
// missing required keys, null where a value is due and trailing data.
func decodeStrict(data []byte, s *schema, v any) error {
	return decode(data, s, v, false)
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
	return decode(data, schemaOf(t.Elem()), v, allowUnknown)
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

func decode(data []byte, s *schema, v any, allowUnknown bool) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: not valid UTF-8", errStrict)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := walker{dec: dec, allowUnknown: allowUnknown}
	if err := w.walk(s, "$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON value", errStrict)
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if !allowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errStrict, err)
	}
	return nil
}

// walker checks a document against a schema before it is decoded.
type walker struct {
	dec          *json.Decoder
	allowUnknown bool
}

// walk consumes one value, checking it against s. path names it in
// errors.
func (w *walker) walk(s *schema, path string) error {
	dec := w.dec
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w at %s: %v", errStrict, path, err)
	}
	if tok == nil {
		if !s.nullable {
			return fmt.Errorf("%w: %s is null", errStrict, path)
		}
		return nil
	}
	if s.kind == kindRaw {
		return skip(dec, tok, path)
	}
	delim, isDelim := tok.(json.Delim)
	switch {
	case s.kind == kindLeaf:
		if isDelim {
			return fmt.Errorf("%w: %s is an %s, want a scalar", errStrict, path, what(delim))
		}
		return nil
	case s.kind == kindObject && delim == '{':
		seen := make(map[string]bool, len(s.fields))
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w at %s: %v", errStrict, path, err)
			}
			k := kt.(string)
			fs, known := s.fields[k]
			if !known {
				if !w.allowUnknown || s.foldMatch(k) {
					return fmt.Errorf("%w: unknown field %q in %s", errStrict, k, path)
				}
				fs = &schema{kind: kindRaw, nullable: true}
			}
			if seen[k] {
				return fmt.Errorf("%w: duplicate field %q in %s", errStrict, k, path)
			}
			seen[k] = true
			if err := w.walk(fs, path+"."+k); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%w at %s: %v", errStrict, path, err)
		}
		for _, k := range s.required {
			if !seen[k] {
				return fmt.Errorf("%w: %s lacks required field %q", errStrict, path, k)
			}
		}
		return nil
	case s.kind == kindArray && delim == '[':
		for i := 0; dec.More(); i++ {
			if err := w.walk(s.elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%w at %s: %v", errStrict, path, err)
		}
		return nil
	}
	if s.kind == kindObject {
		return fmt.Errorf("%w: %s is not an object", errStrict, path)
	}
	return fmt.Errorf("%w: %s is not an array", errStrict, path)
}

// foldMatch reports whether k names a field when case is ignored, as
// encoding/json would match it.
func (s *schema) foldMatch(k string) bool {
	for name := range s.fields {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

func what(d json.Delim) string {
	if d == '{' || d == '}' {
		return "object"
	}
	return "array"
}

// skip consumes the rest of the value that began with tok.
func skip(dec *json.Decoder, tok json.Token, path string) error {
	if _, isDelim := tok.(json.Delim); !isDelim {
		return nil
	}
	depth := 1
	for depth > 0 {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w at %s: %v", errStrict, path, err)
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
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
