package testkit

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Checker holds a test to one expectation at a time, with the few checks
// the tests use: Must stops the test when one fails, Expect lets it go
// on. The core module keeps its tests on the standard library, so that no
// importer inherits a test dependency. Each check returns whether it held.
type Checker struct{ stop bool }

var (
	// Must stops the test at the first check that fails.
	Must = Checker{stop: true}
	// Expect records a failed check and lets the test go on.
	Expect = Checker{}
)

// number is v as a float64 when it is of a numeric kind.
func number(v any) (float64, bool) {
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(r.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(r.Uint()), true
	case reflect.Float32, reflect.Float64:
		return r.Float(), true
	}
	return 0, false
}

func (c Checker) fail(t testing.TB, msg []any, format string, args ...any) bool {
	t.Helper()
	s := fmt.Sprintf(format, args...)
	if len(msg) > 0 {
		if f, ok := msg[0].(string); ok {
			s += ": " + fmt.Sprintf(f, msg[1:]...)
		} else {
			s += ": " + fmt.Sprint(msg...)
		}
	}
	if c.stop {
		t.Fatal(s)
	}
	t.Error(s)
	return false
}

func (c Checker) Equal(t testing.TB, want, got any, msg ...any) bool {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		return c.fail(t, msg, "got %+v, want %+v", got, want)
	}
	return true
}

// EqualValues compares numbers of different types by value.
func (c Checker) EqualValues(t testing.TB, want, got any, msg ...any) bool {
	t.Helper()
	w, okW := number(want)
	g, okG := number(got)
	if okW && okG {
		if w != g {
			return c.fail(t, msg, "got %v, want %v", got, want)
		}
		return true
	}
	return c.Equal(t, want, got, msg...)
}

func (c Checker) NoError(t testing.TB, err error, msg ...any) bool {
	t.Helper()
	if err != nil {
		return c.fail(t, msg, "unexpected error: %v", err)
	}
	return true
}

func (c Checker) ErrorIs(t testing.TB, err, target error, msg ...any) bool {
	t.Helper()
	if !errors.Is(err, target) {
		return c.fail(t, msg, "error %v does not match %v", err, target)
	}
	return true
}

func (c Checker) True(t testing.TB, ok bool, msg ...any) bool {
	t.Helper()
	if !ok {
		return c.fail(t, msg, "not true")
	}
	return true
}

func (c Checker) Zero(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if rv := reflect.ValueOf(v); rv.IsValid() && !rv.IsZero() {
		return c.fail(t, msg, "got %+v, want zero", v)
	}
	return true
}

func (c Checker) Positive(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if n := reflect.ValueOf(v).Int(); n <= 0 {
		return c.fail(t, msg, "got %d, want more than 0", n)
	}
	return true
}

func (c Checker) Len(t testing.TB, v any, n int, msg ...any) bool {
	t.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		return c.fail(t, msg, "length %d, want %d: %+v", l, n, v)
	}
	return true
}

func (c Checker) Empty(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if rv := reflect.ValueOf(v); rv.IsValid() && rv.Len() != 0 {
		return c.fail(t, msg, "got %+v, want empty", v)
	}
	return true
}

func (c Checker) NotEmpty(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if rv := reflect.ValueOf(v); !rv.IsValid() || (rv.Kind() == reflect.String || rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0 {
		return c.fail(t, msg, "empty")
	}
	return true
}

func (c Checker) Contains(t testing.TB, s, sub string, msg ...any) bool {
	t.Helper()
	if !strings.Contains(s, sub) {
		return c.fail(t, msg, "%q does not contain %q", s, sub)
	}
	return true
}

// ElementsMatch compares two slices as multisets.
func (c Checker) ElementsMatch(t testing.TB, want, got any, msg ...any) bool {
	t.Helper()
	w, g := reflect.ValueOf(want), reflect.ValueOf(got)
	if w.Len() != g.Len() {
		return c.fail(t, msg, "got %d elements %+v, want %d %+v", g.Len(), got, w.Len(), want)
	}
	used := make([]bool, g.Len())
	for i := range w.Len() {
		found := false
		for k := range g.Len() {
			if !used[k] && reflect.DeepEqual(w.Index(i).Interface(), g.Index(k).Interface()) {
				used[k], found = true, true
				break
			}
		}
		if !found {
			return c.fail(t, msg, "%+v missing from %+v", w.Index(i).Interface(), got)
		}
	}
	return true
}

func (c Checker) NotEqual(t testing.TB, notWant, got any, msg ...any) bool {
	t.Helper()
	if reflect.DeepEqual(notWant, got) {
		return c.fail(t, msg, "got %+v, want anything else", got)
	}
	return true
}

func (c Checker) False(t testing.TB, v bool, msg ...any) bool {
	t.Helper()
	if v {
		return c.fail(t, msg, "true, want false")
	}
	return true
}

func (c Checker) Error(t testing.TB, err error, msg ...any) bool {
	t.Helper()
	if err == nil {
		return c.fail(t, msg, "no error, want one")
	}
	return true
}

func (c Checker) ErrorContains(t testing.TB, err error, sub string, msg ...any) bool {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), sub) {
		return c.fail(t, msg, "error %v, want one containing %q", err, sub)
	}
	return true
}
