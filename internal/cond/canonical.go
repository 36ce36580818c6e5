package cond

import (
	"errors"
	"strings"
	"time"
)

// ErrNotCanonical is returned by ParseCanonical for a condition that
// parses but is not written in its canonical form.
var ErrNotCanonical = errors.New("not in canonical form")

// ParseCanonical parses s and requires it to be the canonical text of the
// condition it parses to (what AppendCanonical writes): the one encoding
// a token's caveat may have, so that no two texts carry the same caveat.
//
// Token verification parses every caveat of every token it has not
// cached, so the shapes minted tokens carry ("tenant = t", "agent = a",
// "hop = h", "expires < 2026-01-02T15:04:05.123Z" and the like) are read
// by a short path that accepts only canonical text; everything else is
// parsed and encoded again to compare. Both give the same condition:
// FuzzParseCanonical holds them to it.
func ParseCanonical(s string) (Cond, error) {
	if c, ok := parseMinted(s); ok {
		return c, nil
	}
	c, err := Parse(s)
	if err != nil {
		return Cond{}, err
	}
	var buf [256]byte
	if string(c.AppendCanonical(buf[:0])) != s {
		return Cond{}, ErrNotCanonical
	}
	return c, nil
}

// parseMinted reads the canonical text of an "=" condition on a name
// field with a value that needs no quotes, or of an "expires" condition,
// and reports false for anything else, canonical or not.
func parseMinted(s string) (Cond, bool) {
	if len(s) > MaxLen {
		return Cond{}, false
	}
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return Cond{}, false
	}
	f, ok := fieldByName(s[:sp])
	if !ok {
		return Cond{}, false
	}
	rest := s[sp+1:]
	switch f {
	case FieldAgent, FieldTool, FieldSession, FieldOnBehalfOf, FieldTenant, FieldHop:
		v, ok := strings.CutPrefix(rest, "= ")
		if !ok || !plainValue(v) {
			return Cond{}, false
		}
		if f != FieldTenant && f != FieldHop && !ValidName(v) {
			return Cond{}, false
		}
		return Cond{Field: f, Op: OpEq, kind: kindString, str: v}, true
	case FieldExpires:
		op := OpLt
		v, ok := strings.CutPrefix(rest, "< ")
		if !ok {
			op = OpLe
			if v, ok = strings.CutPrefix(rest, "<= "); !ok {
				return Cond{}, false
			}
		}
		t, ok := parseCanonicalUTC(v)
		if !ok || t.IsZero() { // refused by Parse too
			return Cond{}, false
		}
		return Cond{Field: FieldExpires, Op: op, when: t}, true
	}
	return Cond{}, false
}

// plainValue reports whether v is a value written as it is, unquoted, in
// canonical text, and left as it is by parsing: printable ASCII (so
// valid UTF-8, in NFC, without spaces or control characters) other than
// a comma or a double quote.
func plainValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b <= ' ' || b >= 0x7f || b == ',' || b == '"' {
			return false
		}
	}
	return true
}

// parseCanonicalUTC reads a time written as time.RFC3339Nano writes a UTC
// time of years 0 to 9999: YYYY-MM-DDTHH:MM:SS, then a fraction without
// trailing zeros if there is one, then Z. It refuses any other text,
// including other spellings of a valid time.
func parseCanonicalUTC(s string) (time.Time, bool) {
	t, frac, ok := parseUTC(s)
	if !ok || frac != "" && frac[len(frac)-1] == '0' {
		return time.Time{}, false
	}
	return t, true
}
