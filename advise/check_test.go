package advise_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The core module keeps no test dependency: these are the few checks the
// tests use, as assert (the test goes on) and require (it stops).
type checker struct{ stop bool }

var (
	assert  = checker{}
	require = checker{stop: true}
)

func (c checker) fail(t testing.TB, msg []any, format string, args ...any) bool {
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

func (c checker) Equal(t testing.TB, want, got any, msg ...any) bool {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		return c.fail(t, msg, "got %+v, want %+v", got, want)
	}
	return true
}

// EqualValues compares numbers of different types by value.
func (c checker) EqualValues(t testing.TB, want, got any, msg ...any) bool {
	t.Helper()
	w, g := reflect.ValueOf(want), reflect.ValueOf(got)
	if w.IsValid() && g.IsValid() && w.CanInt() && g.CanInt() {
		if w.Int() != g.Int() {
			return c.fail(t, msg, "got %v, want %v", got, want)
		}
		return true
	}
	return c.Equal(t, want, got, msg...)
}

func (c checker) NoError(t testing.TB, err error, msg ...any) bool {
	t.Helper()
	if err != nil {
		return c.fail(t, msg, "unexpected error: %v", err)
	}
	return true
}

func (c checker) ErrorIs(t testing.TB, err, target error, msg ...any) bool {
	t.Helper()
	if !errors.Is(err, target) {
		return c.fail(t, msg, "error %v does not match %v", err, target)
	}
	return true
}

func (c checker) True(t testing.TB, ok bool, msg ...any) bool {
	t.Helper()
	if !ok {
		return c.fail(t, msg, "not true")
	}
	return true
}

func (c checker) Zero(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if rv := reflect.ValueOf(v); rv.IsValid() && !rv.IsZero() {
		return c.fail(t, msg, "got %+v, want zero", v)
	}
	return true
}

func (c checker) Positive(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if n := reflect.ValueOf(v).Int(); n <= 0 {
		return c.fail(t, msg, "got %d, want more than 0", n)
	}
	return true
}

func (c checker) Len(t testing.TB, v any, n int, msg ...any) bool {
	t.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		return c.fail(t, msg, "length %d, want %d: %+v", l, n, v)
	}
	return true
}

func (c checker) Empty(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if rv := reflect.ValueOf(v); rv.IsValid() && rv.Len() != 0 {
		return c.fail(t, msg, "got %+v, want empty", v)
	}
	return true
}

func (c checker) NotEmpty(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if rv := reflect.ValueOf(v); !rv.IsValid() || (rv.Kind() == reflect.String || rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0 {
		return c.fail(t, msg, "empty")
	}
	return true
}

func (c checker) Contains(t testing.TB, s, sub string, msg ...any) bool {
	t.Helper()
	if !strings.Contains(s, sub) {
		return c.fail(t, msg, "%q does not contain %q", s, sub)
	}
	return true
}

// ElementsMatch compares two slices as multisets.
func (c checker) ElementsMatch(t testing.TB, want, got any, msg ...any) bool {
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
