package cedar

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
)

// FuzzJSONNumber holds jsonNumber to math/big: the text of a JSON number
// whose exact value is an integer within int64 and a float64 is that
// Long, one whose value times 10^4 is such an integer of at most 15
// significant digits is that decimal, and anything else (or text that is
// not a JSON number) is refused with a *RequestError.
func FuzzJSONNumber(f *testing.F) {
	for _, s := range []string{
		"5000.00000000000000001", "5.00000000000000000001e3", "9007199254740993.0", "9.007199254740993e15",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775808.5",
		"9.223372036854775807E+18", "5000.0001", "5000.00010000", "50000001e-4", "-0", "-0.0e-7",
		"922337203685477.5807", "-922337203685477.5808", "922337203685477.5808", "1e-400", "1e400",
		"0e99999999999999999999", "1e-99999999999999999999", "+1", "01", "1.", ".5", "0x10", "", "-",
	} {
		f.Add(s)
	}
	minLong, maxLong := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := jsonNumber("attr.x", s)
		var re *RequestError
		if err != nil && (got != nil || !errors.As(err, &re) || re.Field != "attr.x") {
			t.Fatalf("%q: %v, %v; want a *RequestError for attr.x alone", s, got, err)
		}
		if !cond.IsJSONNumber(s) {
			if err == nil {
				t.Fatalf("%q is not a JSON number: got %v", s, got)
			}
			return
		}
		mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
		exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
		if len(exp) > 4 {
			// Too far for big.Rat to scale cheaply: zero, or refused.
			if zero := strings.Trim(mant, "-0.") == ""; zero != (err == nil) || zero && got != cedar.Long(0) {
				t.Fatalf("%q: %v, %v", s, got, err)
			}
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat cannot read %q", s)
		}
		var want cedar.Value
		if r.IsInt() {
			n := r.Num()
			if _, acc := new(big.Float).SetInt(n).Float64(); n.Cmp(minLong) >= 0 && n.Cmp(maxLong) <= 0 && acc == big.Exact {
				want = cedar.Long(n.Int64())
			}
		} else if q := new(big.Rat).Mul(r, big.NewRat(10_000, 1)); q.IsInt() {
			digits := strings.TrimRight(new(big.Int).Abs(q.Num()).String(), "0")
			if n := q.Num(); n.Cmp(minLong) >= 0 && n.Cmp(maxLong) <= 0 && len(digits) <= 15 {
				d, err := types.NewDecimal(n.Int64(), -4)
				if err != nil {
					t.Fatal(err)
				}
				want = d
			}
		}
		switch {
		case want == nil && err == nil:
			t.Fatalf("%q: got %v, want it refused", s, got)
		case want != nil && err != nil:
			t.Fatalf("%q: %v, want %v", s, err, want)
		case want != nil && !want.Equal(got):
			t.Fatalf("%q: got %v, want %v", s, got, want)
		}
	})
}
