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
//
// It takes time linear in len(s), whatever s holds: the end of each run
// of base64url characters is measured once however many candidates start
// inside it, and the rest (API key checksums, JWT headers decoded and
// parsed) is held to a budget of a few times len(s). Text built to
// exhaust it is past any reading: from there on it is replaced by Mark.
func Credentials(s string) string {
	if !MayHold(s) {
		return s
	}
	sc := scanner{s: s, budget: 8*len(s) + 1<<16}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		n := sc.credentialAt(i)
		if sc.work > sc.budget {
			b.WriteString(s[last:i])
			b.WriteString(Mark)
			return b.String()
		}
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

// maxJWTHeader bounds the base64url header of a JWT taken for one: an
// agenttrust JWT's (alg, kid, typ) is far shorter.
const maxJWTHeader = 4096

// scanner is Credentials' state: the runs of base64url characters it has
// measured and the work it has done.
type scanner struct {
	s            string
	runs         [3]struct{ from, to int } // s[from:to] is base64url, s[to] is not
	next         int                       // the slot the next measured run takes
	work, budget int
}

// runEnd returns where the run of base64url characters holding s[p] (or
// starting at p) ends. A JWT candidate measures up to three runs (header,
// payload, signature), and the candidates after it mostly the same three,
// so three are kept.
func (sc *scanner) runEnd(p int) int {
	for _, r := range sc.runs {
		if r.from <= p && p < r.to {
			return r.to
		}
	}
	e := p + base64URLRun(sc.s[p:])
	sc.work += e - p
	sc.runs[sc.next] = struct{ from, to int }{p, e}
	sc.next = (sc.next + 1) % len(sc.runs)
	return e
}

// credentialAt returns the length of the credential starting at s[i], or
// 0: an API key whose checksum holds; "att_" and 32 or more base64url
// characters that decode to a macaroon (V2, first byte 2); a JWT, three
// base64url segments whose first decodes to a JSON object naming "alg".
func (sc *scanner) credentialAt(i int) int {
	s := sc.s[i:]
	switch {
	case strings.HasPrefix(s, apikey.Prefix):
		// Not counted: a key is checked over its 40 bytes at most, and
		// candidates start at least 4 bytes apart.
		if len(s) >= apikey.Len {
			if _, err := apikey.Parse(s[:apikey.Len]); err == nil {
				return apikey.Len
			}
		}
	case strings.HasPrefix(s, tokenPrefix):
		n := sc.runEnd(i+len(tokenPrefix)) - i - len(tokenPrefix)
		var first [3]byte
		if n >= 32 {
			if _, err := base64.RawURLEncoding.Decode(first[:], []byte(s[len(tokenPrefix):len(tokenPrefix)+4])); err == nil && first[0] == 2 {
				return len(tokenPrefix) + n
			}
		}
	case strings.HasPrefix(s, "eyJ"):
		h := sc.runEnd(i) - i
		if h > maxJWTHeader || h >= len(s) || s[h] != '.' {
			return 0
		}
		end := sc.runEnd(i+h+1) - i
		if end >= len(s) || s[end] != '.' {
			return 0
		}
		end = sc.runEnd(i+end+1) - i
		sc.work += 2 * h // the header decoded and parsed
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
