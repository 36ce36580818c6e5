package cond

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Pattern is a compiled glob. The only metacharacter is '*', matching any
// run of characters (including none and including '/'); "\*" and "\\" match
// a literal star and backslash. '?', '[', ']', '{' and '}' are reserved and
// rejected, so a pattern never means something other than it reads.
//
// Matching compares bytes of NFC-normalised text; the candidate is never
// interpreted, so a '*' in a request value is just a character.
type Pattern struct {
	src   string   // canonical source text
	parts []string // literal parts between stars
	lead  bool     // pattern starts with '*'
	trail bool     // pattern ends with '*'
	star  bool     // pattern has at least one '*'
}

// ParsePattern compiles a glob. The text is normalised to NFC first.
func ParsePattern(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, errorf(s, "empty pattern")
	}
	if !utf8.ValidString(s) {
		return Pattern{}, errorf(s, "pattern is not valid UTF-8")
	}
	s = NFC(s)
	var p Pattern
	var lit strings.Builder
	prevStar := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return Pattern{}, errorf(s, "control character in pattern")
		case c == '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return Pattern{}, errorf(s, `"\" must be followed by "*" or "\"`)
			}
			i++
			lit.WriteByte(s[i])
			prevStar = false
			continue
		case c == '*':
			if prevStar {
				return Pattern{}, errorf(s, `"**" is not allowed; one "*" already matches any run`)
			}
			if i == 0 {
				p.lead = true
			} else {
				p.parts = append(p.parts, lit.String())
			}
			lit.Reset()
			p.star = true
			prevStar = true
			continue
		case c == '?' || c == '[' || c == ']' || c == '{' || c == '}':
			return Pattern{}, errorf(s, "reserved character %q in pattern (escape is not supported; only \"*\" is a wildcard)", c)
		}
		lit.WriteByte(c)
		prevStar = false
	}
	if prevStar {
		p.trail = true
	} else {
		p.parts = append(p.parts, lit.String())
	}
	p.src = s
	return p, nil
}

// MustPattern is ParsePattern for patterns known good at compile time.
func MustPattern(s string) Pattern {
	p, err := ParsePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern's canonical source.
func (p Pattern) String() string { return p.src }

// Any reports whether p is "*", matching everything.
func (p Pattern) Any() bool { return p.lead && p.trail && len(p.parts) == 0 }

// Literal returns the exact text p matches when it has no wildcard.
func (p Pattern) Literal() (string, bool) {
	if p.star {
		return "", false
	}
	return p.parts[0], true
}

// LiteralSegment returns the pattern's literal text up to and including
// its first delimiter ('.', ':' or '/') when no '*' comes before it, such
// as "payments." for "payments.*"; otherwise "". Any value p matches
// starts with exactly that segment, which lets an index file p under it.
func (p Pattern) LiteralSegment() string {
	if !p.star || p.lead {
		return ""
	}
	first := p.parts[0] // literal text before the first '*'
	for i := 0; i < len(first); i++ {
		switch first[i] {
		case '.', ':', '/':
			return first[:i+1]
		}
	}
	return ""
}

// Match reports whether s matches p. It allocates nothing.
func (p *Pattern) Match(s string) bool {
	if !p.star {
		return s == p.parts[0]
	}
	parts := p.parts
	if !p.lead {
		if !strings.HasPrefix(s, parts[0]) {
			return false
		}
		s = s[len(parts[0]):]
		parts = parts[1:]
	}
	if !p.trail {
		last := parts[len(parts)-1]
		if !strings.HasSuffix(s, last) {
			return false
		}
		s = s[:len(s)-len(last)]
		parts = parts[:len(parts)-1]
	}
	// Middle parts match greedily leftmost, which is exact for a single
	// wildcard kind.
	for _, part := range parts {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return true
}

// NFC returns s in Unicode normal form C. It allocates only when s is not
// already normalised, which ASCII never is not.
func NFC(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			if norm.NFC.IsNormalString(s) {
				return s
			}
			return norm.NFC.String(s)
		}
	}
	return s
}
