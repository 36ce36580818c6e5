package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
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
	enc := json.NewEncoder(o.w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
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
	_, err := fmt.Fprintln(o.w, msg)
	return err
}
