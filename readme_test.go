package agenttrust_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMESnippetsAreCompiled keeps README.md, and every README.md
// below it, true: every Go snippet is preceded by a marker naming the
// files (from the repository's root) that compile and run it
//
//	<!-- snippet: examples/readme/readme_test.go -->
//
// and each of its code lines (comments and spacing aside) must appear in
// one of those files; a YAML snippet with a marker must appear verbatim.
// Change the API and the README with it, or this fails.
func TestREADMESnippetsAreCompiled(t *testing.T) {
	if n := checkREADME(t, "README.md"); n == 0 {
		t.Fatal("README.md has no marked snippets")
	}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != "." && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")):
			return filepath.SkipDir
		case !d.IsDir() && d.Name() == "README.md" && path != "README.md":
			checkREADME(t, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkREADME checks the snippets of one README and returns how many
// carry a marker.
func checkREADME(t *testing.T, name string) int {
	t.Helper()
	readme, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	blocks := 0
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok || lang == "" {
			continue
		}
		start := i + 1
		end := start
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		body := lines[start:end]
		marker := ""
		for j := i - 1; j >= 0; j-- {
			if s := strings.TrimSpace(lines[j]); s != "" {
				marker = s
				break
			}
		}
		files, hasMarker := parseSnippetMarker(marker)
		switch {
		case lang == "go" && !hasMarker:
			t.Errorf("%s:%d: Go snippet without a <!-- snippet: FILE... --> marker", name, i+1)
		case hasMarker:
			blocks++
			checkSnippet(t, name, i+1, lang, body, files)
		}
		i = end
	}
	return blocks
}

func parseSnippetMarker(s string) ([]string, bool) {
	s, ok := strings.CutPrefix(s, "<!-- snippet:")
	if !ok {
		return nil, false
	}
	s, ok = strings.CutSuffix(s, "-->")
	return strings.Fields(s), ok && len(strings.Fields(s)) > 0
}

func checkSnippet(t *testing.T, name string, line int, lang string, body, files []string) {
	t.Helper()
	var texts []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.FromSlash(f))
		if err != nil {
			t.Errorf("%s:%d: %v", name, line, err)
			return
		}
		texts = append(texts, string(b))
	}
	if lang != "go" {
		want := strings.Join(body, "\n")
		for _, text := range texts {
			if strings.Contains(text, want) {
				return
			}
		}
		t.Errorf("%s:%d: %s snippet is not verbatim in %v", name, line, lang, files)
		return
	}
	var code []string
	for _, text := range texts {
		for _, l := range strings.Split(text, "\n") {
			if n := normGoLine(l); n != "" {
				code = append(code, n)
			}
		}
	}
	for k, l := range body {
		n := normGoLine(l)
		if n == "" {
			continue
		}
		found := false
		for _, c := range code {
			if strings.Contains(c, n) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s:%d: %q is in none of %v", name, line+1+k, strings.TrimSpace(l), files)
		}
	}
}

// normGoLine drops a line's comment (a // outside quotes) and collapses
// its spacing, so alignment and remarks may differ between the README and
// the code.
func normGoLine(l string) string {
	var quote byte
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '`' || c == '\'':
			quote = c
		case c == '/' && i+1 < len(l) && l[i+1] == '/':
			l = l[:i]
		}
	}
	return strings.Join(strings.Fields(l), " ")
}
