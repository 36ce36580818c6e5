// Package strictjson decodes JSON as strictly as a wire format must be
// read: what encoding/json (v1) lets through, it refuses.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
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
	kindMap                      // a map of typed values by string: an object, no duplicate keys
	kindRaw                      // another map, an interface or json.RawMessage: any valid JSON
)

// Schema is what one JSON value must look like, derived once from a Go
// type by SchemaOf.
type Schema struct {
	kind     schemaKind
	nullable bool               // null is allowed (slices, byte slices, pointers, raw)
	fields   map[string]*Schema // kindObject: by exact key
	required []string           // kindObject: keys without omitempty or omitzero
	elem     *Schema            // kindArray, kindMap
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessage      = reflect.TypeFor[json.RawMessage]()
)

// SchemaOf derives the schema of t, a struct type with json tags. It
// panics on an exported field without a json name: a programming error.
func SchemaOf(t reflect.Type) *Schema {
	if t == rawMessage {
		return &Schema{kind: kindRaw, nullable: true}
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		return &Schema{kind: kindLeaf}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := *SchemaOf(t.Elem())
		s.nullable = true
		return &s
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Schema{kind: kindLeaf, nullable: true} // base64
		}
		return &Schema{kind: kindArray, nullable: true, elem: SchemaOf(t.Elem())}
	case reflect.Map:
		if t.Key().Kind() == reflect.String && t.Elem().Kind() != reflect.Interface {
			// A map of typed values (a policy's tool_modes): its keys
			// are matched exactly, and a duplicate, which encoding/json
			// resolves by letting the later one win, is refused as a
			// struct's is. A map of any is data handed on whole.
			return &Schema{kind: kindMap, nullable: true, elem: SchemaOf(t.Elem())}
		}
		return &Schema{kind: kindRaw, nullable: true}
	case reflect.Interface:
		return &Schema{kind: kindRaw, nullable: true}
	case reflect.Struct:
		s := &Schema{kind: kindObject, fields: map[string]*Schema{}}
		for f := range t.Fields() {
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				panic("strictjson: field without a json name: " + t.String() + "." + f.Name)
			}
			s.fields[name] = SchemaOf(f.Type)
			if !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero") {
				s.required = append(s.required, name)
			}
		}
		return s
	}
	return &Schema{kind: kindLeaf}
}

// RefuseOmittedNulls returns a copy of s that refuses null for every
// field tagged omitempty or omitzero, at any depth. encoding/json leaves
// such a field out when it is nil, so a null there was written by hand or
// by a generator, and for a list that narrows something (a rule's tools)
// reading it as absent would widen what was written. A field without
// those options keeps its null, which encoding/json writes for nil.
func (s *Schema) RefuseOmittedNulls() *Schema {
	c := *s
	if s.elem != nil {
		c.elem = s.elem.RefuseOmittedNulls()
	}
	if s.fields != nil {
		c.fields = make(map[string]*Schema, len(s.fields))
		for name, f := range s.fields {
			f = f.RefuseOmittedNulls()
			if !slices.Contains(s.required, name) && f.kind != kindRaw {
				f.nullable = false
			}
			c.fields[name] = f
		}
	}
	return &c
}

func hasOpt(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// ErrMalformed matches every error Decode returns.
var ErrMalformed = errors.New("malformed JSON")

// Decode decodes data, one JSON value of schema s, into v. It refuses
// invalid UTF-8, unknown (unless allowUnknown), duplicate or differently
// cased keys, missing required keys, null where a value is due and
// trailing data. Numbers in maps and interfaces decode as json.Number.
func Decode(data []byte, s *Schema, v any, allowUnknown bool) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := walker{dec: dec, allowUnknown: allowUnknown}
	if err := w.walk(s, "$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrMalformed)
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if !allowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
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
func (w *walker) walk(s *Schema, path string) error {
	dec := w.dec
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrMalformed, path, err)
	}
	if tok == nil {
		if !s.nullable {
			return fmt.Errorf("%w: %s is null", ErrMalformed, path)
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
			return fmt.Errorf("%w: %s is an %s, want a scalar", ErrMalformed, path, what(delim))
		}
		return nil
	case s.kind == kindObject && delim == '{':
		seen := make(map[string]bool, len(s.fields))
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w at %s: %v", ErrMalformed, path, err)
			}
			k := kt.(string)
			fs, known := s.fields[k]
			if !known {
				if !w.allowUnknown || s.foldMatch(k) {
					return fmt.Errorf("%w: unknown field %q in %s", ErrMalformed, k, path)
				}
				fs = &Schema{kind: kindRaw, nullable: true}
			}
			if seen[k] {
				return fmt.Errorf("%w: duplicate field %q in %s", ErrMalformed, k, path)
			}
			seen[k] = true
			if err := w.walk(fs, path+"."+k); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%w at %s: %v", ErrMalformed, path, err)
		}
		for _, k := range s.required {
			if !seen[k] {
				return fmt.Errorf("%w: %s lacks required field %q", ErrMalformed, path, k)
			}
		}
		return nil
	case s.kind == kindMap && delim == '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w at %s: %v", ErrMalformed, path, err)
			}
			k := kt.(string)
			if seen[k] {
				return fmt.Errorf("%w: duplicate key %q in %s", ErrMalformed, k, path)
			}
			seen[k] = true
			if err := w.walk(s.elem, path+"."+k); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%w at %s: %v", ErrMalformed, path, err)
		}
		return nil
	case s.kind == kindArray && delim == '[':
		for i := 0; dec.More(); i++ {
			if err := w.walk(s.elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%w at %s: %v", ErrMalformed, path, err)
		}
		return nil
	}
	if s.kind == kindObject || s.kind == kindMap {
		return fmt.Errorf("%w: %s is not an object", ErrMalformed, path)
	}
	return fmt.Errorf("%w: %s is not an array", ErrMalformed, path)
}

// foldMatch reports whether k names a field when case is ignored, as
// encoding/json would match it.
func (s *Schema) foldMatch(k string) bool {
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
			return fmt.Errorf("%w at %s: %v", ErrMalformed, path, err)
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
