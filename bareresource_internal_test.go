package agenttrust

import (
	"strings"
	"testing"
)

func TestBareResource(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/a", ""},
		{"/", ""},
		{"/a/", "/a"},
		{"/a?x", "/a"},
		{"/a#x", "/a"},
		{"/a;x", "/a"},
		{"/a;x/b;y/", "/a/b"},
		{"a;b/c", "a/c"},
		{"https://h/admin;j=1?x#y", "https://h/admin"},
		{"mailbox:bob/x/", "mailbox:bob/x"},
		{"?x", ""},
		{";", ""},
		{"/;", "/"},
		{"/a/;x/", "/a"},
		{"0//", "0"},
	} {
		_, got, ok := bareResource(tc.in)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("bareResource(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// The cut form keeps the trailing slash a rule on a directory or a
// site's root holds.
func TestBareResourceCut(t *testing.T) {
	for _, tc := range []struct{ in, cut, bare string }{
		{"/a/", "", "/a"},
		{"/a?x", "/a", "/a"},
		{"/a/?x", "/a/", "/a"},
		{"/a/;x", "/a/", "/a"},
		{"https://h/#x", "https://h/", "https://h"},
		{"file:///?x", "file:///", "file:"},
	} {
		cut, bare, ok := bareResource(tc.in)
		if !ok || cut != tc.cut || bare != tc.bare {
			t.Errorf("bareResource(%q) = %q, %q, %v; want %q, %q", tc.in, cut, bare, ok, tc.cut, tc.bare)
		}
	}
}

// FuzzBareResource: the bare form is shorter and holds no query,
// fragment, parameter or trailing slash.
func FuzzBareResource(f *testing.F) {
	for _, s := range []string{"/a/", "/a?x", "/a;x/b;y/", "https://h/admin;j=1?x#y", "a;/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, r string) {
		cut, b, ok := bareResource(r)
		if !ok {
			if b != "" || cut != "" {
				t.Fatalf("%q: not ok but %q", r, b)
			}
			return
		}
		if b == "" || b == r || len(b) > len(r) || strings.ContainsAny(b, "?#;") {
			t.Fatalf("bareResource(%q) = %q", r, b)
		}
		if len(b) > 1 && strings.HasSuffix(b, "/") {
			t.Fatalf("bareResource(%q) = %q ends in a slash", r, b)
		}
		// cut, when there is one, is what bare is without its trailing
		// slashes, and holds no query, fragment or parameter either.
		if cut != "" && (cut == r || strings.ContainsAny(cut, "?#;") || !strings.HasPrefix(cut, b) || strings.Trim(cut[len(b):], "/") != "") {
			t.Fatalf("bareResource(%q) = %q, %q", r, cut, b)
		}
	})
}
