package middleware

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/redact"
)

// JSONAttributes turns a JSON object into request attributes: each
// top-level member becomes one attribute; strings, booleans and null keep
// their value, numbers become json.Number (which conditions such as
// "attr.amount <= 50" compare as numbers, without losing the digits of
// large integers), and objects and arrays become map[string]any and
// []any of such values, as the HTTP API hands them to the engine (no
// condition of the rule engine judges them; a Cedar policy reads inside).
// Empty input (or only whitespace) has no attributes. Input that is not a
// single JSON object, that names a member twice in one object (ignoring
// case, as encoding/json does when it fills a struct), or that holds bytes
// that are not UTF-8 or a lone surrogate escape ("\ud800", which
// encoding/json reads as U+FFFD and other readers keep), is an
// error matching
// agenttrust.ErrInvalidRequest: a policy must see the same value the tool
// will.
func JSONAttributes(data []byte) (map[string]any, error) {
	attrs, _, err := jsonAttributes(data, "")
	return attrs, err
}

// jsonAttributes is JSONAttributes that also returns the text of the
// member named resourceKey, which must be a string, a number or null.
func jsonAttributes(data []byte, resourceKey string) (attrs map[string]any, resource string, err error) {
	data = trimJSONSpace(data)
	if len(data) == 0 {
		return nil, "", nil
	}
	if err := jsonText(data); err != nil {
		return nil, "", err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, "", badArguments("not a JSON object")
	}
	attrs = map[string]any{}
	folded := map[string]bool{}
	// The resource is the member a tool reads as resourceKey: under any
	// spelling that folds onto it, as encoding/json fills a field.
	resourceFolded := string(cond.AppendFolded(nil, resourceKey))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, "", badArguments("not valid JSON")
		}
		key, ok := t.(string)
		if !ok {
			return nil, "", badArguments("not valid JSON")
		}
		// encoding/json matches struct fields case-insensitively and
		// keeps the last duplicate: refuse any name a tool might read
		// differently.
		f := string(cond.AppendFolded(nil, key))
		if folded[f] {
			return nil, "", badArguments(fmt.Sprintf("member %q appears twice (names are compared case-insensitively)", key))
		}
		folded[f] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, "", badArguments("not valid JSON")
		}
		v, err := attrValue(raw)
		if err != nil {
			return nil, "", invalidJSON(err)
		}
		attrs[key] = v
		if f == resourceFolded && resourceKey != "" {
			if resource, err = resourceText(key, raw, v); err != nil {
				return nil, "", err
			}
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, "", badArguments("not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", badArguments("data after the JSON object")
	}
	return attrs, resource, nil
}

// jsonValueAttribute is jsonAttributes for one JSON value that is not an
// object (a string, a number, a list): it becomes the attribute key, and
// the resource when key is resourceKey.
func jsonValueAttribute(data []byte, key, resourceKey string) (attrs map[string]any, resource string, err error) {
	if err := jsonText(data); err != nil {
		return nil, "", err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, "", badArguments("not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", badArguments("data after the JSON value")
	}
	v, err := attrValue(raw)
	if err != nil {
		return nil, "", invalidJSON(err)
	}
	if key == resourceKey {
		if resource, err = resourceText(key, raw, v); err != nil {
			return nil, "", err
		}
	}
	return map[string]any{key: v}, resource, nil
}

// jsonText refuses what JSON text cannot hold and encoding/json reads as
// U+FFFD without an error: bytes that are not UTF-8, and a \u escape of
// a lone surrogate. The API refuses both (its decoder, json/v2's, is the
// one asked here); a tool in Python or JavaScript keeps a lone surrogate
// (and Python's file system calls turn "\udcff" into the byte 0xff), so
// the check would judge other text than the tool reads. Any other fault
// is left to the decoder, which says what it is.
func jsonText(data []byte) error {
	v := jsontext.Value(data)
	if !v.IsValid() && v.IsValid(jsontext.AllowInvalidUTF8(true)) {
		return badArguments("not valid UTF-8, or a \\u escape of a lone surrogate, which names no character")
	}
	return nil
}

// trimJSONSpace trims what JSON counts as white space, and no more:
// bytes.TrimSpace would let "{}\f" pass for JSON.
func trimJSONSpace(data []byte) []byte {
	return bytes.Trim(data, " \t\r\n")
}

// invalidJSON is err when it already says what is wrong with the
// arguments (a member named twice, too deep), else "not valid JSON".
func invalidJSON(err error) error {
	if errors.Is(err, agenttrust.ErrInvalidRequest) {
		return err
	}
	return badArguments("not valid JSON")
}

// badArguments is the error of arguments that cannot be checked. msg may
// quote them (a member's name): any agenttrust credential in it is
// redacted, as the audit trail redacts one, since it reaches refusals,
// logs and the model.
func badArguments(msg string) error {
	return fmt.Errorf("%w: arguments: %s", agenttrust.ErrInvalidRequest, redact.Credentials(msg))
}

// resourceText is the resource named by the member key, whose JSON is
// raw and attribute value v: a string's value, a number's text, or ""
// for null. Anything else is refused, never taken as a name. A number
// must be an integer in its one plain spelling that a float64 holds
// exactly: a tool reading it as a number reads 1e2, 100.0 and 0.1e3 all
// as 100, and 2^53+1 as 2^53, which a policy would see as other
// resources.
func resourceText(key string, raw json.RawMessage, v any) (string, error) {
	switch raw[0] {
	case '"':
		return v.(string), nil
	case 'n':
		return "", nil
	case '{', '[', 't', 'f':
		return "", fmt.Errorf("%w: argument %q names the resource and must be a string or a number", agenttrust.ErrInvalidRequest, key)
	}
	if !plainSafeInteger(string(raw)) {
		return "", fmt.Errorf("%w: argument %q names the resource: a number must be a plain integer of at most 2^53 in magnitude (send other ids as strings)", agenttrust.ErrInvalidRequest, key)
	}
	return string(raw), nil
}

// plainSafeInteger reports whether s is an integer spelled without
// fraction, exponent, leading zeros or a minus zero, of magnitude at most
// 2^53, so that every JSON decoder reads it as the same integer.
func plainSafeInteger(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || digits[0] == '0' && s != "0" {
		return false // a leading zero, -0
	}
	n, err := strconv.ParseUint(digits, 10, 64) // digits only
	return err == nil && n <= 1<<53
}

func attrValue(raw json.RawMessage) (any, error) {
	switch raw[0] {
	case '{', '[':
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		return compoundValue(dec, 0)
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	}
	return json.Number(raw), nil
}

// maxArgumentDepth bounds how deep arguments nest.
const maxArgumentDepth = 64

// compoundValue decodes the object or array that starts at dec's next
// token as the HTTP API hands one to the engine: map[string]any and
// []any, numbers as json.Number. Never as its JSON text, a string that
// conditions would judge: the API judges a list or an object by no
// condition of the rule engine, and a tool reads ["/etc/passwd"] as a
// list, not as text that a deny of "attr.path in /etc/*" misses. A
// member named twice in one object (ignoring case, as encoding/json
// fills a struct) is refused, as at the top level.
func compoundValue(dec *json.Decoder, depth int) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	return tokenValue(dec, t, depth)
}

// tokenValue is the value that starts with t, at depth.
func tokenValue(dec *json.Decoder, t json.Token, depth int) (any, error) {
	if depth > maxArgumentDepth {
		return nil, badArguments(fmt.Sprintf("nested deeper than %d", maxArgumentDepth))
	}
	switch t {
	case json.Delim('{'):
		m := map[string]any{}
		folded := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			f := string(cond.AppendFolded(nil, k))
			if folded[f] {
				return nil, badArguments(fmt.Sprintf("member %q appears twice in an object (names are compared case-insensitively)", k))
			}
			folded[f] = true
			if m[k], err = compoundValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		_, err := dec.Token()
		return m, err
	case json.Delim('['):
		l := []any{}
		for dec.More() {
			v, err := compoundValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.Token()
		return l, err
	}
	switch t.(type) {
	case string, json.Number, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("not valid JSON")
}
