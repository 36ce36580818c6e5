// Package redact finds agenttrust credentials (API keys, tokens and
// JWTs) inside text and replaces them, so that a credential put where
// text is recorded or shown (an attribute, an answer's error) is not
// written to the audit trail or shown to a model.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/agenttrust/agenttrust/internal/apikey"
)

// Mark replaces a credential found inside a text.
const Mark = "[redacted credential]"

// tokenPrefix is agenttrust.tokenPrefix, which this package cannot import;
// a test of the root package checks that they agree.
const tokenPrefix = "att_"

// Marks start every agenttrust credential: API keys, tokens and JWTs
// (base64url of a JSON header, '{"' being "eyJ").
var Marks = [...]string{apikey.Prefix, tokenPrefix, "eyJ"}

// MayHold is the fast filter: text without any mark holds no
// credential. Every mark holds a '_' or a 'J' (a test checks it), so most
// text is let through by two vectorised byte scans.
func MayHold(s string) bool {
	if strings.IndexByte(s, '_') < 0 && strings.IndexByte(s, 'J') < 0 {
		return false
	}
	for _, m := range Marks {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// MayHoldBytes is MayHold for a JSON encoding,
// without converting it to a string (which would allocate).
func MayHoldBytes(b []byte) bool {
	if bytes.IndexByte(b, '_') < 0 && bytes.IndexByte(b, 'J') < 0 {
		return false
	}
	for _, m := range Marks {
		if bytes.Contains(b, []byte(m)) {
			return true
		}
	}
	return false
}

// Credentials returns s with every credential in it replaced by Mark; s
// itself, without allocating, when it holds none.
func Credentials(s string) string {
	if !MayHold(s) {
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
		b.WriteString(Mark)
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
	case strings.HasPrefix(s, tokenPrefix):
		n := base64URLRun(s[len(tokenPrefix):])
		var first [3]byte
		if n >= 32 {
			if _, err := base64.RawURLEncoding.Decode(first[:], []byte(s[len(tokenPrefix):len(tokenPrefix)+4])); err == nil && first[0] == 2 {
				return len(tokenPrefix) + n
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
