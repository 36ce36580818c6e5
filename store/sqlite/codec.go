package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// zeroTime is how the zero time.Time is stored: the smallest INTEGER, so
// that, as in Go, it sorts and compares before every other time.
const zeroTime = math.MinInt64

// encoder turns values into column values and keeps the first error, so
// that a method can encode all its arguments and check once.
type encoder struct {
	op  string
	err error
}

// time returns t as nanoseconds since the Unix epoch, the zero time as
// zeroTime. Nanoseconds keep every time exactly (audit hashes cover
// UnixNano) but span only the years 1678 to 2262; a time outside them is
// refused with store.ErrInvalid.
func (e *encoder) time(field string, t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	n, ok := unixNano(t)
	if !ok && e.err == nil {
		e.err = invalid(e.op, "%s %s is outside the years 1678 to 2262 this store can hold", field, t.Format(time.RFC3339Nano))
	}
	return n
}

// list returns v as a JSON array, or NULL when v is empty. An element
// that is not UTF-8 is refused with store.ErrInvalid: JSON would hold
// U+FFFD in place of its bytes, another string than the one given.
func (e *encoder) list(field string, v []string) any {
	if len(v) == 0 {
		return nil
	}
	for _, s := range v {
		if !utf8.ValidString(s) {
			if e.err == nil {
				e.err = invalid(e.op, "%s holds %q, which is not UTF-8", field, s)
			}
			return nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("%s: %s: encode %s: %w", prefix, e.op, field, err)
	}
	return string(b)
}

// unixNano returns t in nanoseconds when it lies strictly between the
// smallest and the largest int64, the bounds being reserved: the smallest
// for the zero time, and both for clamping query bounds.
func unixNano(t time.Time) (int64, bool) {
	if t.Before(time.Unix(0, math.MinInt64+1)) || t.After(time.Unix(0, math.MaxInt64-1)) {
		return 0, false
	}
	return t.UnixNano(), true
}

// clampTime returns t in nanoseconds for a comparison in a query, the
// times outside the storable range moved to the reserved bounds, which
// compare with stored times the way t does.
func clampTime(t time.Time) int64 {
	if n, ok := unixNano(t); ok {
		return n
	}
	if t.Before(time.Unix(0, 0)) {
		return math.MinInt64 + 1 // zero is handled by callers
	}
	return math.MaxInt64
}

// decTime is the inverse of encoder.time. Times come back in UTC.
func decTime(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// blob returns b as a column value, NULL when it is empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// decList is the inverse of encoder.list.
func decList(s sql.NullString) ([]string, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s.String), &v); err != nil {
		return nil, err
	}
	return v, nil
}

// nullBytes returns nil for an empty slice, so that an empty stored value
// and a NULL read the same.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
