package main

import (
	"strings"
	"testing"
)

// TestHidePasswords: each form of database address the command takes
// loses its password and keeps the rest.
func TestHidePasswords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/agenttrust", "postgres://app:xxxxx@db:5432/agenttrust"},
		{"--postgres postgres://app:s3cret@db/x extra", "--postgres postgres://app:xxxxx@db/x extra"},
		{"app:s3cret@tcp(db:3306)/agenttrust", "app:xxxxx@tcp(db:3306)/agenttrust"},
		{"app:s3cret@/agenttrust", "app:xxxxx@/agenttrust"},
		{"host=db password=s3cret dbname=x", "host=db password=xxxxx dbname=x"},
		{"host=db PassWord = 's3 cret' dbname=x", "host=db PassWord = xxxxx dbname=x"},
		{`flag "--mysql" repeated: "app:s3cret@tcp(db)/x"`, `flag "--mysql" repeated: "app:xxxxx@tcp(db)/x"`},
		{"password='se'cret x", "password=xxxxx x"},
		{"no secret here", "no secret here"},
		{"mail me@example.com", "mail me@example.com"},
	} {
		if got := hidePasswords(c.in); got != c.want {
			t.Errorf("hidePasswords(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzHidePasswords: whatever the text, hiding passwords never panics,
// is done in one pass (hiding again changes nothing), and leaves no
// password of a URL put anywhere in it.
func FuzzHidePasswords(f *testing.F) {
	for _, s := range []string{
		"postgres://app:s3cret@db:5432/x", "app:s3cret@tcp(db:3306)/x", "password=s3cret",
		"password = 'a b'", `"x://u:p@h" "y:z@/d"`, "::@@//", "password=", "PASSWORD='",
	} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, text, pw string) {
		once := hidePasswords(text)
		if twice := hidePasswords(once); twice != once {
			t.Fatalf("hiding twice changed %q to %q", once, twice)
		}
		// A password as a URL can hold it unescaped: no space or
		// control (where a word ends), quote or URL delimiter.
		if pw == "" || strings.ContainsAny(pw, "\"'/?#@:\\") || strings.Contains(masked, pw) ||
			strings.IndexFunc(pw, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return
		}
		url := text + " postgres://app:" + pw + "@db/x"
		if got := hidePasswords(url); strings.HasSuffix(got, "app:"+pw+"@db/x") {
			t.Fatalf("the password of %q stayed: %q", url, got)
		}
	})
}
