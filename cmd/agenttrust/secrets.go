package main

import (
	"strings"

	"github.com/agenttrust/agenttrust/internal/redact"
)

// shown is what a message may quote of the command line, an argument or
// a flag's or variable's value, which may be a secret put in the wrong
// place: an agenttrust credential (the audit trail's redactor) or a
// database password (hidePasswords). stderr is often a log.
func shown(s string) string { return hidePasswords(redact.Credentials(s)) }

// masked stands for a password left out.
const masked = "xxxxx"

// hidePasswords masks the passwords of the database URLs and DSNs a text
// holds, the other secret this command takes on its command line
// (--postgres, --mysql): a URL's user password (scheme://user:PASSWORD@),
// a MySQL DSN's (user:PASSWORD@tcp(...)/db, user:PASSWORD@/db) and a
// PostgreSQL keyword DSN's (password=PASSWORD, password='...'), whatever
// the case of "password" and the spaces around "=". A value ends at a
// space or at a '"' that is not escaped, as %q quotes it.
func hidePasswords(s string) string {
	if !strings.Contains(s, "@") && indexFold(s, "password") < 0 {
		return s
	}
	s = hideURLPasswords(s)
	s = hideDSNPasswords(s)
	return hideKeywordPasswords(s)
}

// wordEnd reports whether s[i] ends a word: a space or control, or a '"'
// that is not escaped.
func wordEnd(s string, i int) bool {
	return s[i] <= ' ' || (s[i] == '"' && (i == 0 || s[i-1] != '\\'))
}

func hideURLPasswords(s string) string {
	for from := 0; ; {
		i := strings.Index(s[from:], "://")
		if i < 0 {
			return s
		}
		a := from + i + 3
		e := a
		for e < len(s) && !wordEnd(s, e) && !strings.ContainsRune("/?#", rune(s[e])) {
			e++
		}
		if at := strings.LastIndexByte(s[a:e], '@'); at >= 0 {
			if c := strings.IndexByte(s[a:a+at], ':'); c >= 0 {
				s = s[:a+c+1] + masked + s[a+at:]
				e = a + c + 1 + len(masked) + 1
			}
		}
		from = e
	}
}

// hideDSNPasswords masks user:PASSWORD@ before a MySQL DSN's network
// ("@tcp(", "@unix(") or database ("@/").
func hideDSNPasswords(s string) string {
	for k := 0; k < len(s); k++ {
		if s[k] != '@' || !dsnAddress(s[k+1:]) {
			continue
		}
		w := k
		for w > 0 && !wordEnd(s, w-1) {
			w--
		}
		if strings.Contains(s[w:k], "://") {
			continue // a URL: hideURLPasswords has seen it
		}
		if c := strings.IndexByte(s[w:k], ':'); c >= 0 {
			s = s[:w+c+1] + masked + s[k:]
			k = w + c + 1 + len(masked)
		}
	}
	return s
}

// dsnAddress reports whether s starts as what follows the '@' of a MySQL
// DSN: "/" or a network name and "(".
func dsnAddress(s string) bool {
	if strings.HasPrefix(s, "/") {
		return true
	}
	n := 0
	for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return n > 0 && n < len(s) && s[n] == '('
}

func hideKeywordPasswords(s string) string {
	const kw = "password"
	for from := 0; ; {
		i := indexFold(s[from:], kw)
		if i < 0 {
			return s
		}
		i += from
		from = i + len(kw)
		if i > 0 && isWordByte(s[i-1]) {
			continue
		}
		j := from
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j == len(s) || s[j] != '=' {
			continue
		}
		j++
		for j < len(s) && s[j] == ' ' {
			j++
		}
		v, k := j, j
		if k < len(s) && s[k] == '\'' {
			for k++; k < len(s); k++ {
				if s[k] == '\\' {
					k++
				} else if s[k] == '\'' {
					k++
					break
				}
			}
			k = min(k, len(s))
		}
		// Text glued to a quoted value goes with it too: a reader could
		// take it for part of the password.
		for k < len(s) && !wordEnd(s, k) {
			k++
		}
		if k > v {
			s = s[:v] + masked + s[k:]
			from = v + len(masked)
		}
	}
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// indexFold is strings.Index of the lower-case ASCII word kw, ignoring
// the case of ASCII letters in s.
func indexFold(s, kw string) int {
	for i := 0; i+len(kw) <= len(s); i++ {
		j := 0
		for j < len(kw) && s[i+j]|0x20 == kw[j] {
			j++
		}
		if j == len(kw) {
			return i
		}
	}
	return -1
}
