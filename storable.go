package agenttrust

import (
	"math"
	"strings"
	"unicode/utf8"
)

// Audit records hold what a request said, including requests refused
// for what they said. Every text that goes into a record passes through
// storable, so that every store can hold it: PostgreSQL refuses NUL and
// invalid UTF-8 in text, and a record a store refuses would be retried
// forever and stop the trail. Each NUL byte and each byte that is not
// part of valid UTF-8 becomes U+FFFD, so the record still shows that
// something was there.

// noLimit is the bound of fields that storable does not clip.
const noLimit = math.MaxInt

// clip bounds a request's text field in the audit record.
func clip(s string) string { return storable(s, maxFieldLen) }

// storable returns s as every audit store can hold it: at most max
// bytes, cut on a character boundary, valid UTF-8 without NUL. Plain
// ASCII within the bound, the common case, is returned as is without
// allocating.
func storable(s string, max int) string {
	if len(s) > max {
		s = s[:runeStart(s, max)]
	}
	i := 0
	// Eight bytes at a time: a word has a NUL or a non-ASCII byte exactly
	// when some byte of (x - 0x01...) | x has its top bit set.
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if ((x-0x0101010101010101)|x)&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= utf8.RuneSelf {
			if strings.IndexByte(s[i:], 0) < 0 && utf8.ValidString(s[i:]) {
				return s
			}
			return replaceUnstorable(s, max)
		}
	}
	return s
}

// runeStart returns the largest i <= n at which a character of s
// starts, looking back no further than one character.
func runeStart(s string, n int) int {
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return n
}

// replaceUnstorable replaces each NUL and each invalid byte of s with
// U+FFFD, stopping before the result would exceed max bytes.
func replaceUnstorable(s string, max int) string {
	var b strings.Builder
	b.Grow(min(len(s)+2*utf8.UTFMax, max))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		add := s[i : i+size]
		if r == 0 || r == utf8.RuneError && size == 1 {
			add = "\uFFFD"
		}
		if b.Len()+len(add) > max {
			break
		}
		b.WriteString(add)
		i += size
	}
	return b.String()
}

// storableList is storable without a bound for each of ids, copying the
// list only when one of them changes: ids may be shared with a cache.
func storableList(ids []string) []string {
	for i, id := range ids {
		if s := storable(id, noLimit); s != id {
			out := make([]string, len(ids))
			copy(out, ids[:i])
			for j := i; j < len(ids); j++ {
				out[j] = storable(ids[j], noLimit)
			}
			return out
		}
	}
	return ids
}
