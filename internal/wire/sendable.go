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
// as bad, with why it cannot travel, and the caller must not send the
// request. So is an empty json.Number, which encoding/json writes as 0
// where the engine sees no number. So is a value of such another Go type
// (or an empty json.Number) nested in a
// map[string]any or []any, at any depth: an engine that reads inside
// objects and lists (Cedar) refuses it in process, and would judge its
// JSON form on the server (the base64 of bytes past a forbid on the
// path they hold).
func SendableAttributes(attrs map[string]any) (out map[string]any, bad, why string) {
	out = attrs
	cloned := false
	for k, v := range attrs {
		switch x := v.(type) {
		case float32:
			if d, err := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64); err == nil && d != float64(x) {
				return nil, k, "a float32 whose binary value differs from the decimal it prints as, which JSON cannot carry both of"
			}
		case map[string]any, []any:
			if path := unsendableInside(x, k, 0); path != "" {
				return nil, path, "a Go value that is not a string, number, boolean, map[string]any or []any, nested in an object or a list: an engine reading it there judges it as nothing JSON can carry"
			}
		case json.Number:
			if x == "" {
				return nil, k, "an empty json.Number, which JSON carries as 0 and the engine judges as no number"
			}
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float64:
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
	return out, "", ""
}

// maxSendDepth bounds the nesting unsendableInside walks; deeper values
// are refused, as the Cedar engine refuses nesting deeper than 16.
const maxSendDepth = 64

// unsendableInside returns the path of the first value inside v (a
// map[string]any or []any) of a Go type other than those JSON carries as
// the engine reads them, or "" when there is none.
func unsendableInside(v any, path string, depth int) string {
	if depth > maxSendDepth {
		return path
	}
	check := func(e any, p string) string {
		switch x := e.(type) {
		case map[string]any, []any:
			return unsendableInside(x, p, depth+1)
		case json.Number:
			if x == "" {
				return p // encoding/json writes it as 0
			}
			return ""
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			return ""
		}
		return p
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if p := check(e, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := check(e, path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	}
	return ""
}
