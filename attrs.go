package agenttrust

import (
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/redact"

	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits on a request's attributes, checked before anything else.
const (
	maxAttributes   = 64
	maxAttrKeyLen   = 128
	maxFieldLen     = 1024
	redactedText    = "[redacted]"
	redactedValue   = `"` + redactedText + `"`
	attrUnencodable = `"[unencodable]"`
)

// secretWords mark attribute names whose values never reach the audit trail
// or an approval: matched case-insensitively anywhere in the name.
var secretWords = [...]string{"password", "passwd", "secret", "token", "credential", "authorization", "api_key", "api-key", "apikey", "private_key", "private-key", "access_key", "access-key", "cookie"}

// redactor decides which attribute values are replaced by "[redacted]".
type redactor struct {
	exact map[string]bool // names given in AuditConfig.Redact, exact match
}

func (r *redactor) redact(key string) bool {
	if r.exact[key] {
		return true
	}
	if !mayHoldSecretWord(key) {
		return false
	}
	for _, w := range secretWords {
		if containsFold(key, w) {
			return true
		}
	}
	return false
}

// mayNameSecret reports whether the JSON text raw may hold a member name
// redact would redact: a name in exact, or a secret word anywhere. A \u
// escape may spell either, so it counts too.
func (r *redactor) mayNameSecret(raw []byte) bool {
	if bytes.Contains(raw, []byte(`\u`)) {
		return true
	}
	for name := range r.exact {
		if bytes.Contains(raw, []byte(name)) {
			return true
		}
	}
	if !mayHoldSecretWord(raw) {
		return false
	}
	for _, w := range secretWords {
		if containsFold(raw, w) {
			return true
		}
	}
	return false
}

// mayHoldSecretWord is a fast filter: every secret word starts with one of
// a few letter pairs, so a name without any of them holds none.
func mayHoldSecretWord[T string | []byte](s T) bool {
	for i := 0; i+1 < len(s); i++ {
		switch uint16(lower(s[i]))<<8 | uint16(lower(s[i+1])) {
		case 'p'<<8 | 'a', 's'<<8 | 'e', 't'<<8 | 'o', 'c'<<8 | 'r', 'a'<<8 | 'u',
			'a'<<8 | 'p', 'p'<<8 | 'r', 'a'<<8 | 'c', 'c'<<8 | 'o':
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// containsFold reports whether s contains the lower-case ASCII word w,
// ignoring ASCII case, without allocating.
func containsFold[T string | []byte](s T, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// attrKV is one request attribute captured for the audit record. Values of
// the basic types are immutable once boxed in an interface, so holding them
// is safe after Check returns; anything else is encoded to JSON at capture
// (json.RawMessage), since the caller may change it later.
type attrKV = cond.Attr

// captureAttrs copies attrs into kvs (reusing its capacity): the only
// pass over the caller's map on the hot path. Encoding, sorting and
// redaction happen later, off the hot path, in appendKVs. It also
// returns the bytes of text kvs holds (names, strings, encoded values),
// which the audit queue bounds (see queuedAttrs).
func captureAttrs(kvs []attrKV, attrs map[string]any) ([]attrKV, int) {
	kvs = kvs[:0]
	size := 0
	for k, v := range attrs {
		switch x := v.(type) {
		case string:
			size += len(x)
		case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		case json.Number:
			size += len(x)
		default:
			raw := json.RawMessage(marshalAttr(v))
			size += len(raw)
			v = raw
		}
		size += len(k)
		kvs = append(kvs, attrKV{Name: k, Value: v})
	}
	return kvs, size
}

// kvsText returns the bytes of text kvs hold, as captureAttrs counts
// them, for attributes made by the library itself (an operator action's).
func kvsText(kvs []attrKV) int {
	size := 0
	for _, kv := range kvs {
		size += len(kv.Name)
		switch x := kv.Value.(type) {
		case string:
			size += len(x)
		case json.RawMessage:
			size += len(x)
		case json.Number:
			size += len(x)
		case encodedAttrs:
			size += len(x)
		}
	}
	return size
}

// encodedAttrs is the attributes of a record encoded when queued (see
// queuedAttrs): the flusher takes them as they are. No caller can pass a
// value of this type.
type encodedAttrs []byte

// queuedAttrs returns the attributes to queue for a record of kvs, which
// hold size bytes of text: kvs themselves, or, when they hold more than a
// record keeps (maxAuditAttrBytes), what the flusher would make of them,
// encoded now (redacted, and cut to {truncatedAttr: true} when still too
// large), in kvs' room. The queue then holds no more of a request than
// its record does, while it waits for a slow sink and after, in its spare
// capacity; the record is the same.
func queuedAttrs(kvs []attrKV, size int, red *redactor) []attrKV {
	if size <= maxAuditAttrBytes {
		return kvs
	}
	enc := appendKVs(nil, kvs, red)
	clear(kvs)
	if len(enc) > maxAuditAttrBytes {
		return append(kvs[:0], attrKV{Name: truncatedAttr, Value: true})
	}
	return append(kvs[:0], attrKV{Value: encodedAttrs(enc)})
}

// marshalAttr encodes a value of no basic type. Its MarshalJSON is the
// caller's code: a panic there makes the value unencodable rather than
// escaping from Check.
func marshalAttr(v any) (b []byte) {
	defer func() {
		if recover() != nil {
			b = []byte(attrUnencodable)
		}
	}()
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(attrUnencodable)
	}
	return b
}

// appendKVs appends the canonical JSON object of kvs to dst: keys sorted
// (kvs is sorted in place), no spaces. An empty kvs appends nothing.
//
// With red nil it is the exact form, for fingerprints. With red set it is
// the form a record keeps (audit, approvals): secret values and the
// credentials found in any value redacted (appendRedactedValue), and
// the JSON made storable in any JSON column: NUL and lone surrogates
// become U+FFFD, as invalid UTF-8 does in both forms, and a json.Number
// that is no JSON number is kept as a string.
func appendKVs(dst []byte, kvs []attrKV, red *redactor) []byte {
	if len(kvs) == 0 {
		return dst
	}
	// Insertion sort: attribute lists are short, and this allocates nothing.
	for i := 1; i < len(kvs); i++ {
		for j := i; j > 0 && kvs[j].Name < kvs[j-1].Name; j-- {
			kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
		}
	}
	dst = append(dst, '{')
	for i := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		if red == nil {
			dst = appendJSONString(dst, kvs[i].Name)
			dst = append(dst, ':')
			dst = appendValue(dst, kvs[i].Value, false)
			continue
		}
		dst = appendJSONText(dst, redact.Credentials(kvs[i].Name), true)
		dst = append(dst, ':')
		if red.redact(kvs[i].Name) {
			dst = append(dst, redactedValue...)
			continue
		}
		dst = appendRedactedValue(dst, kvs[i].Value, red)
	}
	return append(dst, '}')
}

// appendRedactedValue is appendValue with every agenttrust credential
// found in the value's text replaced, whatever the attribute's name: a
// key, token or JWT pasted into a "note" or "body", alone or inside
// larger text, at any depth of a nested value; and, in a nested value,
// the value of every member whose name red redacts, as at the top level
// ({"auth":{"password":...}}). The policy saw the value as it was; only
// what is recorded or stored is redacted.
func appendRedactedValue(dst []byte, v any, red *redactor) []byte {
	switch x := v.(type) {
	case string:
		return appendJSONText(dst, redact.Credentials(x), true)
	case json.RawMessage:
		// A credential needs no escaping in JSON, so its text is in the
		// encoding as is; a \u escape may still spell one, so that too
		// sends the value through the slow path.
		if !redact.MayHoldBytes(x) && !red.mayNameSecret(x) {
			return appendStorableJSON(dst, x)
		}
		return appendStorableJSON(dst, redactJSON(x, red))
	}
	return appendValue(dst, v, true)
}

// redactJSON returns the JSON value raw with every credential in its
// strings, member names included, replaced, and the value of every member
// whose name red redacts. What cannot be decoded is withheld whole.
func redactJSON(raw json.RawMessage, red *redactor) []byte {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return []byte(redactedValue)
	}
	b, err := json.Marshal(redactTree(v, red))
	if err != nil {
		return []byte(redactedValue)
	}
	return b
}

func redactTree(v any, red *redactor) any {
	switch x := v.(type) {
	case string:
		return redact.Credentials(x)
	case []any:
		for i := range x {
			x[i] = redactTree(x[i], red)
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if red.redact(k) {
				out[redact.Credentials(k)] = redactedText
				continue
			}
			out[redact.Credentials(k)] = redactTree(e, red)
		}
		return out
	}
	return v
}

func appendValue(dst []byte, v any, stored bool) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendJSONText(dst, x, stored)
	case bool:
		return strconv.AppendBool(dst, x)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int8:
		return strconv.AppendInt(dst, int64(x), 10)
	case int16:
		return strconv.AppendInt(dst, int64(x), 10)
	case int32:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case float32:
		return appendFloat(dst, float64(x), 32)
	case float64:
		return appendFloat(dst, x, 64)
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return append(dst, attrUnencodable...)
		}
		if stored && !isJSONNumber(string(x)) {
			// ParseFloat takes NaN, Inf, 0x1p3 and 1_000: record them as text.
			return appendJSONText(dst, string(x), stored)
		}
		return append(dst, x...)
	case json.RawMessage:
		if stored {
			return appendStorableJSON(dst, x)
		}
		return append(dst, x...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, attrUnencodable...)
	}
	if stored {
		return appendStorableJSON(dst, b)
	}
	return append(dst, b...)
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// JSON has no such numbers; record them as text.
		return strconv.AppendQuote(dst, strconv.FormatFloat(f, 'g', -1, bits))
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD as with encoding/json.
func appendJSONString(dst []byte, s string) []byte { return appendJSONText(dst, s, false) }

// appendJSONText is appendJSONString, and with stored set NUL becomes
// U+FFFD too: PostgreSQL's jsonb refuses \u0000.
func appendJSONText(dst []byte, s string, stored bool) []byte {
	dst = append(dst, '"')
	// Plain ASCII, the common case, goes in one copy.
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' {
		i++
	}
	dst = append(dst, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == 0 && stored:
				dst = append(dst, `\ufffd`...)
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// appendStorableJSON appends raw, a valid JSON text, with every string in
// it made storable: \u0000 and lone surrogate escapes become \ufffd, and
// so does each byte that is not valid UTF-8. Text without any of them,
// the usual case, is copied as is.
func appendStorableJSON(dst, raw []byte) []byte {
	if utf8.Valid(raw) && !bytes.Contains(raw, []byte(`\u`)) {
		return append(dst, raw...)
	}
	inString := false
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case !inString || c == '"':
			// Outside strings, JSON is ASCII.
			inString = inString != (c == '"')
			dst = append(dst, c)
			i++
		case c == '\\' && i+6 <= len(raw) && raw[i+1] == 'u':
			r := hex4(raw[i+2 : i+6])
			switch {
			case r == 0 || utf16.IsSurrogate(r) && r >= 0xdc00:
				dst = append(dst, `\ufffd`...)
			case utf16.IsSurrogate(r):
				if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
					if lo := hex4(raw[i+8 : i+12]); lo >= 0xdc00 && lo < 0xe000 {
						dst = append(dst, raw[i:i+12]...)
						i += 12
						continue
					}
				}
				dst = append(dst, `\ufffd`...)
			default:
				dst = append(dst, raw[i:i+6]...)
			}
			i += 6
		case c == '\\':
			end := min(i+2, len(raw))
			dst = append(dst, raw[i:end]...)
			i = end
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}
