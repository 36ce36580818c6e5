package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// out holds the --json flag and writes a command's result.
type out struct {
	w    io.Writer
	json bool
}

func outFlags(e *env, f *flags) *out {
	o := &out{w: e.stdout}
	f.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	return o
}

// printJSON writes v as indented JSON.
func (o *out) printJSON(v any) error {
	enc := json.NewEncoder(jsonWriter{o.w})
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// jsonWriter writes JSON text with every character a terminal or a
// reader could be fooled by written as a \u escape: C0 and C1 controls,
// DEL, bidi controls and every other format character (Unicode Cf, such
// as U+061C, U+200E, U+202A-U+202E, U+2066-U+2069), line and paragraph
// separators. Such characters only occur inside JSON strings, where the
// escape means the same character, so the JSON is unchanged to a parser.
// Each Write must hold whole characters, as json.Encoder's do.
type jsonWriter struct{ w io.Writer }

func (j jsonWriter) Write(b []byte) (int, error) {
	if _, err := j.w.Write(escapeUnsafe(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// escapeUnsafe returns b with each unsafe character as a \u escape (a
// surrogate pair beyond U+FFFF); b itself when there is none.
func escapeUnsafe(b []byte) []byte { return escapeChars(b, false) }

// unsafeRune: controls (but the JSON text's own newline), DEL, C1,
// format characters, line and paragraph separators.
func unsafeRune(r rune) bool {
	switch {
	case r == '\n':
		return false
	case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
		return true
	case r < 0xa0:
		return false
	}
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// termWriter is what everything the CLI writes to stdout and stderr
// passes through (env.run puts one in front of each): whatever path a
// server's or an agent's text takes to the terminal, no control, DEL, C1,
// bidi or other format character, line or paragraph separator, or byte of
// invalid UTF-8 comes out raw. Each such character is written as a \u
// escape (a surrogate pair beyond U+FFFF), each invalid byte as \xXX; only
// tab and newline pass. The encoders in front of
// it escape in the form their output needs (jsonWriter keeps JSON valid,
// cell keeps columns aligned, plain marks a message), so their output
// passes unchanged: termWriter catches what a path forgot.
//
// A Write that ends inside a character keeps its first bytes until the
// next Write or Flush. A termWriter is safe for concurrent use.
type termWriter struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte
}

func newTermWriter(w io.Writer) *termWriter { return &termWriter{w: w} }

func (t *termWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := p
	if len(t.pending) > 0 {
		b = append(t.pending, p...)
		t.pending = nil
	}
	keep := heldTail(b)
	out := escapeTerm(b[:len(b)-keep])
	if keep > 0 {
		t.pending = append([]byte(nil), b[len(b)-keep:]...)
	}
	if len(out) == 0 {
		return len(p), nil
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes the bytes a Write kept back, escaped: they end the output.
func (t *termWriter) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) == 0 {
		return nil
	}
	out := escapeTerm(t.pending)
	t.pending = nil
	_, err := t.w.Write(out)
	return err
}

// heldTail is how many bytes at the end of b a termWriter keeps for the
// next Write: the start of a character cut short.
func heldTail(b []byte) int {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[len(b)-i:]) {
				return 0
			}
			return i
		}
	}
	return 0
}

// escapeTerm returns b escaped as termWriter writes it; b itself when it
// needs no escape.
func escapeTerm(b []byte) []byte { return escapeChars(b, true) }

// escapeChars returns b with each unsafe character as a \u escape (a
// surrogate pair beyond U+FFFF); b itself when there is none. For a
// terminal (term) a tab passes and each byte of invalid UTF-8 becomes \xXX.
func escapeChars(b []byte, term bool) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		r, size := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(b[i:])
		}
		invalid := term && r == utf8.RuneError && size == 1
		if !invalid && (!unsafeRune(r) || term && r == '\t') {
			i += size
			continue
		}
		out = append(out, b[last:i]...)
		switch {
		case invalid:
			out = fmt.Appendf(out, `\x%02x`, b[i])
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
		last = i
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// plain makes a message safe for a terminal: any character that is not
// printable (controls, ESC, C1, bidi and other format characters,
// invalid UTF-8) is written as an escape. Messages may carry what an
// agent or a server chose.
func plain(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// table writes aligned columns. Cells are made safe for a terminal: data
// from agents (tool names, reasons) may hold control characters.
type table struct{ tw *tabwriter.Writer }

func (o *out) table(header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, cell(c))
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() error { return t.tw.Flush() }

// cell renders a value for a table: "-" when empty, quoted Go-style when
// it holds anything but printable characters and spaces.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || r == '\t' }) {
		return strconv.QuoteToGraphic(s)
	}
	return s
}

// fmtTime formats a time for a table: UTC, to the second; "-" when zero.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// timePtr is nil for the zero time, so JSON omits it.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func list(s []string) string { return strings.Join(s, ",") }

// nonNil makes JSON print [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// done prints a one-line confirmation, or {"ok": true, ...} with --json.
func (o *out) done(msg string, fields map[string]any) error {
	if o.json {
		m := map[string]any{"ok": true}
		for k, v := range fields {
			m[k] = v
		}
		return o.printJSON(m)
	}
	_, err := fmt.Fprintln(o.w, plain(msg))
	return err
}
