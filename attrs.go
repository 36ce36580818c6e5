package agenttrust

import (
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/cond"

	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on a request's attributes, checked before anything else.
const (
	MaxAttributes   = 64
	maxAttrKeyLen   = 128
	maxFieldLen     = 1024
	redactedValue   = `"[redacted]"`
	attrUnencodable = `"[unencodable]"`
)

// secretWords mark attribute names whose values never reach the audit trail
// or an approval: matched case-insensitively anywhere in the name.
var secretWords = [...]string{"password", "passwd", "secret", "token", "credential", "authorization", "api_key", "api-key", "apikey", "private_key", "private-key", "access_key", "access-key", "cookie"}

// redactor decides which attribute values are replaced by "[redacted]".
type redactor struct {
	exact map[string]bool // names given with WithRedact, exact match
}

func (r *redactor) redact(key string) bool {
	if r.exact != nil && r.exact[key] {
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

// mayHoldSecretWord is a fast filter: every secret word starts with one of
// a few letter pairs, so a name without any of them holds none.
func mayHoldSecretWord(s string) bool {
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
func containsFold(s, w string) bool {
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
// redaction happen later, off the hot path, in appendKVs.
func captureAttrs(kvs []attrKV, attrs map[string]any) []attrKV {
	kvs = kvs[:0]
	for k, v := range attrs {
		switch v.(type) {
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		default:
			b, err := json.Marshal(v)
			if err != nil {
				b = []byte(attrUnencodable)
			}
			v = json.RawMessage(b)
		}
		kvs = append(kvs, attrKV{Name: k, Value: v})
	}
	return kvs
}

// appendKVs appends the canonical JSON object of kvs to dst: keys sorted
// (kvs is sorted in place), no spaces, secret values redacted when red is
// not nil. An empty kvs appends nothing.
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
			dst = appendValue(dst, kvs[i].Value)
			continue
		}
		dst = appendJSONString(dst, redactCredentials(kvs[i].Name))
		dst = append(dst, ':')
		if red.redact(kvs[i].Name) {
			dst = append(dst, redactedValue...)
			continue
		}
		dst = appendRedactedValue(dst, kvs[i].Value)
	}
	return append(dst, '}')
}

// appendRedactedValue is appendValue with every agenttrust credential
// found in the value's text replaced, whatever the attribute's name: a
// key, token or JWT pasted into a "note" or "body", alone or inside
// larger text, at any depth of a nested value. The policy saw the value
// as it was; only what is recorded or stored is redacted.
func appendRedactedValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendJSONString(dst, redactCredentials(x))
	case json.RawMessage:
		// A credential needs no escaping in JSON, so its text is in the
		// encoding as is; a \u escape may still spell one, so that too
		// sends the value through the slow path.
		if !mayHoldCredential(x) && !bytes.Contains(x, []byte(`\u`)) {
			return append(dst, x...)
		}
		return append(dst, redactJSON(x)...)
	}
	return appendValue(dst, v)
}

// redactedCredential replaces a credential found inside a value.
const redactedCredential = "[redacted credential]"

// credentialMarks start every agenttrust credential: API keys, tokens
// and JWTs (base64url of a JSON header, '{"' being "eyJ").
var credentialMarks = [...]string{apikey.Prefix, TokenPrefix, "eyJ"}

// mayHoldCredential is the fast filter: text without any mark holds no
// credential.
func mayHoldCredential[T ~string | ~[]byte](s T) bool {
	for _, m := range credentialMarks {
		if strings.Contains(string(s), m) {
			return true
		}
	}
	return false
}

// redactCredentials returns s with every credential in it replaced by
// redactedCredential; s itself, without allocating, when it holds none.
func redactCredentials(s string) string {
	if !mayHoldCredential(s) {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		n := credentialAt(s[i:])
		if n == 0 {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(redactedCredential)
		i += n
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// credentialAt returns the length of the credential s starts with, or 0:
// an API key whose checksum holds; "att_" and 32 or more base64url
// characters that decode to a macaroon (V2, first byte 2); a JWT, three
// base64url segments whose first decodes to a JSON object naming "alg".
func credentialAt(s string) int {
	switch {
	case strings.HasPrefix(s, apikey.Prefix):
		if len(s) >= apikey.Len {
			if _, err := apikey.Parse(s[:apikey.Len]); err == nil {
				return apikey.Len
			}
		}
	case strings.HasPrefix(s, TokenPrefix):
		n := base64URLRun(s[len(TokenPrefix):])
		var first [3]byte
		if n >= 32 {
			if _, err := base64.RawURLEncoding.Decode(first[:], []byte(s[len(TokenPrefix):len(TokenPrefix)+4])); err == nil && first[0] == 2 {
				return len(TokenPrefix) + n
			}
		}
	case strings.HasPrefix(s, "eyJ"):
		h := base64URLRun(s)
		if h > 4096 || h >= len(s) || s[h] != '.' {
			return 0
		}
		p := base64URLRun(s[h+1:])
		end := h + 1 + p
		if end >= len(s) || s[end] != '.' {
			return 0
		}
		end += 1 + base64URLRun(s[end+1:])
		hdr, err := base64.RawURLEncoding.DecodeString(s[:h])
		if err != nil {
			return 0
		}
		var head struct {
			Alg *string `json:"alg"`
		}
		if json.Unmarshal(hdr, &head) != nil || head.Alg == nil {
			return 0
		}
		return end
	}
	return 0
}

// base64URLRun returns how many bytes s starts with from the base64url
// alphabet.
func base64URLRun(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return i
		}
	}
	return len(s)
}

// redactJSON returns the JSON value raw with every credential in its
// strings, member names included, replaced. What cannot be decoded is
// withheld whole.
func redactJSON(raw json.RawMessage) []byte {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return []byte(redactedValue)
	}
	b, err := json.Marshal(redactTree(v))
	if err != nil {
		return []byte(redactedValue)
	}
	return b
}

func redactTree(v any) any {
	switch x := v.(type) {
	case string:
		return redactCredentials(x)
	case []any:
		for i := range x {
			x[i] = redactTree(x[i])
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[redactCredentials(k)] = redactTree(e)
		}
		return out
	}
	return v
}

func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendJSONString(dst, x)
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
		return append(dst, x...)
	case json.RawMessage:
		return append(dst, x...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, attrUnencodable...)
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
func appendJSONString(dst []byte, s string) []byte {
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
