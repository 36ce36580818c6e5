package agenttrust_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// checker holds a test to one expectation: must stops the test when it
// fails, expect lets it go on. The core module keeps its tests on the
// standard library, so that importers do not inherit a test dependency.
type checker struct{ fatal bool }

var (
	must   = checker{fatal: true}
	expect = checker{}
)

func (c checker) fail(t testing.TB, msg []any, format string, args ...any) {
	t.Helper()
	s := fmt.Sprintf(format, args...)
	if len(msg) > 0 {
		if f, ok := msg[0].(string); ok {
			s += ": " + fmt.Sprintf(f, msg[1:]...)
		} else {
			s += ": " + fmt.Sprint(msg...)
		}
	}
	if c.fatal {
		t.Fatal(s)
	}
	t.Error(s)
}

func (c checker) Equal(t testing.TB, want, got any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		c.fail(t, msg, "got %#v, want %#v", got, want)
	}
}

func (c checker) NotEqual(t testing.TB, notWant, got any, msg ...any) {
	t.Helper()
	if reflect.DeepEqual(notWant, got) {
		c.fail(t, msg, "got %#v, want anything else", got)
	}
}

func (c checker) True(t testing.TB, v bool, msg ...any) {
	t.Helper()
	if !v {
		c.fail(t, msg, "false, want true")
	}
}

func (c checker) False(t testing.TB, v bool, msg ...any) {
	t.Helper()
	if v {
		c.fail(t, msg, "true, want false")
	}
}

func (c checker) NoError(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		c.fail(t, msg, "error %v", err)
	}
}

func (c checker) Error(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err == nil {
		c.fail(t, msg, "no error, want one")
	}
}

func (c checker) ErrorIs(t testing.TB, err, target error, msg ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		c.fail(t, msg, "error %v, want one matching %v", err, target)
	}
}

func (c checker) ErrorContains(t testing.TB, err error, sub string, msg ...any) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), sub) {
		c.fail(t, msg, "error %v, want one containing %q", err, sub)
	}
}

func (c checker) Contains(t testing.TB, s, sub string, msg ...any) {
	t.Helper()
	if !strings.Contains(s, sub) {
		c.fail(t, msg, "%q does not contain %q", s, sub)
	}
}

// EqualValues is Equal for numbers of any two types.
func (c checker) EqualValues(t testing.TB, want, got any, msg ...any) {
	t.Helper()
	w, okW := number(want)
	g, okG := number(got)
	if okW && okG {
		if w != g {
			c.fail(t, msg, "got %v, want %v", got, want)
		}
		return
	}
	c.Equal(t, want, got, msg...)
}

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

func (c checker) Len(t testing.TB, v any, n int, msg ...any) {
	t.Helper()
	if got := reflect.ValueOf(v).Len(); got != n {
		c.fail(t, msg, "length %d, want %d", got, n)
	}
}

func (c checker) NotEmpty(t testing.TB, v any, msg ...any) {
	t.Helper()
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Slice, reflect.Map, reflect.String, reflect.Array, reflect.Chan:
		if r.Len() == 0 {
			c.fail(t, msg, "empty, want something")
		}
	default:
		if !r.IsValid() || r.IsZero() {
			c.fail(t, msg, "zero, want something")
		}
	}
}
