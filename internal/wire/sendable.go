package wire

import (
	"encoding/json"
	"maps"
	"strconv"
)

// SendableAttributes returns a request's attributes as they must travel to
// a server that judges them, so that it judges them as the rule engine in
// this process would. JSON alone would not: a Go value the engine cannot
// judge (a []byte, a time.Time, a named string or number type, a struct, a
// pointer) has a JSON form the server would judge (the base64 of bytes, a
// time's text, the string or number a named type wraps), so each such
// top-level value is replaced with an empty object, on which no condition
// can be evaluated there either and which no declared type accepts (a
// value JSON cannot encode at all, a channel, is left for the send to fail
// on). attrs is copied only when a value is replaced. A float32 whose
// binary value differs from the decimal it prints as (float32(0.7) holds
// 0.699999988) cannot travel: the engine judges it only where both
// readings agree, and JSON carries the decimal alone; its name is returned
// as bad, and the caller must not send the request.
func SendableAttributes(attrs map[string]any) (out map[string]any, bad string) {
	out = attrs
	cloned := false
	for k, v := range attrs {
		switch x := v.(type) {
		case float32:
			if d, err := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64); err == nil && d != float64(x) {
				return nil, k
			}
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float64, json.Number, map[string]any, []any:
		default:
			if _, err := json.Marshal(x); err != nil {
				continue // JSON cannot carry it at all: sending fails, and the check denies
			}
			if !cloned {
				out, cloned = maps.Clone(attrs), true
			}
			out[k] = map[string]any{}
		}
	}
	return out, ""
}
