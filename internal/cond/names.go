package cond

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxNameLen bounds an agent, tool or session name.
const MaxNameLen = 256

// nameByte reports whether c may appear in a name.
func nameByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '.', '_', ':', '/', '@', '+', '-':
		return true
	}
	return false
}

// ValidName reports whether s is a name in its one canonical form: 1 to
// MaxNameLen bytes of ASCII letters, digits and . _ : / @ + -. Agent ids,
// tool names, session ids and on-behalf-of principals are names, so two
// names that look alike are the same bytes, and a name cannot hide
// invisible or look-alike characters from a rule that spells it out.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return false
		}
	}
	return true
}

// CheckResource reports what makes s unusable as a resource, or "" when
// nothing does. A resource is refused when it holds a dot segment ("."
// or ".." between '/' or ':' separators) or an empty one ("//", but for
// the one after a leading URL scheme), raw or behind any depth of
// percent-encoding or Unicode compatibility look-alikes (fullwidth dots,
// one-dot leaders); a backslash or an encoded '/' or '\'; percent-encoding
// that decodes to invalid UTF-8; or an invisible formatting character.
// Such text can name another resource to whatever interprets it next
// than the one a glob saw. ASCII text without '%' is checked without
// allocating.
func CheckResource(s string) string {
	slow, doubled := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			return `holds a backslash ('\' is not a separator; use '/')`
		case c == '%' || c >= utf8.RuneSelf:
			slow = true
		case c == '/' && i > 0 && s[i-1] == '/':
			doubled = true // judged below: a URL's "//" is allowed
		}
	}
	if hasDotSegment(s) {
		return "holds a dot segment (\".\" or \"..\")"
	}
	if doubled && hasEmptySegment(s) {
		return "holds an empty segment (\"//\")"
	}
	if !slow {
		return ""
	}
	// Peel percent-encoding layer by layer; each layer, and its Unicode
	// compatibility form, must be free of what the raw text may not hold.
	for round := 0; ; round++ {
		if msg := unicodeProblem(s); msg != "" {
			return msg
		}
		d, changed := percentDecode(s)
		if !changed {
			return ""
		}
		switch {
		case round == maxDecodeRounds:
			return "is percent-encoded too deeply"
		case !utf8.ValidString(d):
			return "holds percent-encoding that decodes to invalid UTF-8"
		case strings.Count(d, "/") != strings.Count(s, "/") || strings.ContainsRune(d, '\\'):
			return "holds an encoded separator ('/' or '\\')"
		case hasDotSegment(d):
			return "holds an encoded dot segment"
		}
		s = d
	}
}

// unicodeProblem looks at the non-ASCII text of a resource: invisible
// characters, and look-alikes that Unicode compatibility folding (NFKC,
// as many systems downstream apply) turns into separators, dot segments
// or percent-encoding.
func unicodeProblem(s string) string {
	if isASCII(s) {
		return ""
	}
	for _, r := range s {
		if r >= utf8.RuneSelf && (unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zs, r)) {
			return "holds an invisible formatting or space character"
		}
	}
	k := norm.NFKC.String(s)
	if k == s {
		return ""
	}
	if strings.Count(k, "/") != strings.Count(s, "/") || strings.Count(k, ":") != strings.Count(s, ":") || strings.ContainsRune(k, '\\') {
		return "holds a look-alike of a separator"
	}
	if hasDotSegment(k) {
		return "holds a look-alike of a dot segment"
	}
	if msg := CheckResource(k); msg != "" {
		return "holds a look-alike that " + msg
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// maxDecodeRounds bounds how many layers of percent-encoding are peeled.
const maxDecodeRounds = 4

// percentDecode decodes every %XX (either case) and %uXXXX in s.
func percentDecode(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, false
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
				changed = true
				continue
			}
			if i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]) {
				r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
				b.WriteRune(r)
				i += 5
				changed = true
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), changed
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// hasEmptySegment reports whether s holds "//" other than the one that
// opens a URL's authority, right after a leading scheme ("https://host",
// "file:///path", "*://host" in a pattern). Like a dot segment, an empty
// one names the same path to what serves it: POSIX file systems read
// "/data//secret" and "//data/secret" as "/data/secret", and nginx merges
// slashes by default, while a glob sees other text.
func hasEmptySegment(s string) bool {
	i := strings.Index(s, "//")
	if i < 0 {
		return false
	}
	if i > 0 && s[i-1] == ':' && !strings.Contains(s[:i], "/") {
		return strings.Contains(s[i+2:], "//")
	}
	return true
}

// hasDotSegment reports whether s, split at '/', '\' and ':', has a
// segment that is "." or "..".
func hasDotSegment(s string) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '/' || s[i] == '\\' || s[i] == ':' {
			if seg := s[start:i]; seg == "." || seg == ".." {
				return true
			}
			start = i + 1
		}
	}
	return false
}
