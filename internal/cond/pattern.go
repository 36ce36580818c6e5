package cond

import (
	"math/bits"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Pattern is a compiled glob. There are two kinds, by what they match:
//
//   - Name patterns (ParsePattern, ParseNamePattern: agents, tools,
//     sessions, approvers, attribute values). '*' matches any run of
//     characters, including none and including '.', ':' and '/':
//     "payments.*" matches "payments.charge" and "payments.charge.refund".
//     "**" is refused; one '*' already matches any run.
//   - Resource patterns (ParseResourcePattern). '*' matches any run within
//     one path segment, never a '/'; "**" matches any run, '/' included.
//     "mailbox:alice/*" matches "mailbox:alice/inbox" but not
//     "mailbox:alice/inbox/2024"; "mailbox:alice/**" matches both. A
//     pattern with a dot segment ("." or "..", raw or percent-encoded) is
//     refused, as is a resource holding one (see CheckResource).
//
// "\*" and "\\" match a literal star and backslash. '?', '[', ']', '{'
// and '}' are reserved and refused, so a pattern never means something
// other than it reads.
//
// LiteralPrefix returns the pattern's literal text before its first '*'
// when it has a wildcard and does not start with one, such as "acct-7-"
// for "acct-7-*"; otherwise "". Any value p matches starts with it.
func (p Pattern) LiteralPrefix() string {
	if !p.star || p.lead {
		return ""
	}
	return p.parts[0]
}

// Matching compares bytes of NFC-normalised text; the candidate is never
// interpreted, so a '*' in a request value is just a character.
type Pattern struct {
	src   string   // canonical source text
	parts []string // name patterns: literal parts between stars
	lead  bool     // name patterns: starts with '*'
	trail bool     // name patterns: ends with '*'
	star  bool     // pattern has at least one '*'
	// prog is a resource pattern with a wildcard, compiled: literal
	// bytes, progStar for '*' and progStars for "**". Control bytes
	// never occur in a pattern's text, so they are free as operators.
	prog string
}

const (
	progStar  = 0x01 // '*': any run without '/'
	progStars = 0x02 // "**": any run
)

// ParsePattern compiles a name glob. The text is normalised to NFC first.
func ParsePattern(s string) (Pattern, error) { return parsePattern(s, false) }

// ParseNamePattern compiles a glob over agent, tool or session names: a
// name pattern whose literal text is in the name alphabet (see
// ValidName), so it never names what a request can never be.
func ParseNamePattern(s string) (Pattern, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '*' && !nameByte(c) {
			return Pattern{}, errorf(s, "character %q is not allowed in a name pattern (letters, digits and . _ : / @ + - only)", rune(c))
		}
	}
	if len(s) > MaxNameLen {
		return Pattern{}, errorf(s, "name pattern longer than %d bytes", MaxNameLen)
	}
	return parsePattern(s, false)
}

// ParseResourcePattern compiles a resource glob: '*' stays within one
// '/'-separated segment, "**" crosses segments. Patterns holding a dot
// segment or an encoded separator are refused.
func ParseResourcePattern(s string) (Pattern, error) {
	p, err := parsePattern(s, true)
	if err != nil {
		return Pattern{}, err
	}
	if msg := CheckResource(strings.NewReplacer(`\*`, "*", `\\`, `\`).Replace(p.src)); msg != "" {
		return Pattern{}, errorf(s, "resource pattern %s", msg)
	}
	return p, nil
}

func parsePattern(s string, resource bool) (Pattern, error) {
	if s == "" {
		return Pattern{}, errorf(s, "empty pattern")
	}
	if !utf8.ValidString(s) {
		return Pattern{}, errorf(s, "pattern is not valid UTF-8")
	}
	s = NFC(s)
	var p Pattern
	var lit, prog strings.Builder
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
			prog.WriteByte(s[i])
			prevStar = false
			continue
		case c == '*':
			double := i+1 < len(s) && s[i+1] == '*'
			switch {
			case prevStar:
				return Pattern{}, errorf(s, `"***" is not allowed`)
			case double && !resource:
				return Pattern{}, errorf(s, `"**" is not allowed; in a name pattern one "*" already matches any run`)
			case double && i+2 < len(s) && s[i+2] == '*':
				return Pattern{}, errorf(s, `"***" is not allowed`)
			}
			if double {
				prog.WriteByte(progStars)
				i++
			} else {
				prog.WriteByte(progStar)
			}
			if i == 0 || (double && i == 1) {
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
		prog.WriteByte(c)
		prevStar = false
	}
	if prevStar {
		p.trail = true
	} else {
		p.parts = append(p.parts, lit.String())
	}
	p.src = s
	if resource && p.star {
		p.prog = prog.String()
	}
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

// Any reports whether p matches everything: "*" as a name pattern, "**"
// as a resource pattern.
func (p Pattern) Any() bool {
	if p.prog != "" {
		return p.prog == string(rune(progStars))
	}
	return p.lead && p.trail && len(p.parts) == 0
}

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
	if p.prog != "" {
		return matchProg(p.prog, s)
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

// matchProg matches a compiled resource pattern: the classic wildcard
// walk with two resume points, one for the last '*' (which may not
// swallow a '/') and one for the last "**". Trying again from the last
// "**" when the '*' after it is stuck at a '/' is complete: every earlier
// choice only ends its match earlier, which leaves a later "**" more to
// take. Time is O(len(prog) * len(s)) (see matchProgSteps); nothing is
// allocated for a pattern of up to 4,095 bytes.
func matchProg(p, s string) bool {
	ok, _ := matchProgSteps(p, s)
	return ok
}

// matchProgSteps is matchProg, also returning the steps it took. The
// walk is linear unless a '*' after a "**" keeps getting stuck at a '/'
// (as "**x*z" does on "xxx…x/"): each resume from the "**" then walks
// the '*' to the same '/' again, O(len(p) * len(s)^2) in all. Past a
// linear budget of steps it hands over to matchStates, which is
// O(len(p) * len(s)) whatever the input.
func matchProgSteps(p, s string) (bool, int) {
	pi, si := 0, 0
	starP, starS := -1, 0
	dstarP, dstarS := -1, 0
	steps, budget := 0, 4*(len(p)+len(s))+64
	for si < len(s) {
		steps++
		if steps > budget {
			ok, n := matchStates(p, s)
			return ok, steps + n
		}
		if pi < len(p) {
			switch c := p[pi]; c {
			case progStars:
				dstarP, dstarS, starP = pi+1, si, -1
				pi++
				continue
			case progStar:
				starP, starS = pi+1, si
				pi++
				continue
			default:
				if c == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		switch {
		case starP >= 0 && s[starS] != '/':
			starS++
			pi, si = starP, starS
		case dstarP >= 0:
			dstarS++
			pi, si, starP = dstarP, dstarS, -1
		default:
			return false, steps
		}
	}
	for pi < len(p) && (p[pi] == progStar || p[pi] == progStars) {
		pi++
	}
	return pi == len(p), steps
}

// matchStates matches a compiled resource pattern by walking the set of
// pattern positions reachable after each byte of s: O(len(p) * len(s))
// steps, counted in its second result. Position i is "about to match
// p[i]"; a wildcard may also be skipped, and loops on what it matches.
// It allocates only for a pattern longer than 4,095 bytes.
func matchStates(p, s string) (bool, int) {
	var curA, nextA [64]uint64
	cur, next := curA[:], nextA[:]
	if w := len(p)/64 + 1; w > len(curA) {
		cur, next = make([]uint64, w), make([]uint64, w)
	} else {
		cur, next = cur[:w], next[:w]
	}
	// closure adds the positions reachable by skipping wildcards; they
	// only lead forward, so one ascending pass is enough.
	closure := func(set []uint64) {
		for i := 0; i < len(p); i++ {
			if set[i/64]&(1<<(i%64)) != 0 && (p[i] == progStar || p[i] == progStars) {
				set[(i+1)/64] |= 1 << ((i + 1) % 64)
			}
		}
	}
	cur[0] = 1
	closure(cur)
	steps := 0
	for si := 0; si < len(s); si++ {
		c := s[si]
		clear(next)
		live := false
		for w, set := range cur {
			for set != 0 {
				i := w*64 + bits.TrailingZeros64(set)
				set &= set - 1
				steps++
				if i == len(p) {
					continue
				}
				switch p[i] {
				case progStars:
					next[i/64] |= 1 << (i % 64)
				case progStar:
					if c != '/' {
						next[i/64] |= 1 << (i % 64)
					}
				case c:
					next[(i+1)/64] |= 1 << ((i + 1) % 64)
				default:
					continue
				}
				live = true
			}
		}
		if !live {
			return false, steps
		}
		closure(next)
		steps += len(p)
		cur, next = next, cur
	}
	return cur[len(p)/64]&(1<<(len(p)%64)) != 0, steps
}

// NFC returns s in Unicode normal form C. It allocates only when s is not
// already normalised, which ASCII never is not.
func NFC(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			if norm.NFC.QuickSpanString(s) == len(s) || norm.NFC.IsNormalString(s) {
				return s
			}
			return norm.NFC.String(s)
		}
	}
	return s
}
