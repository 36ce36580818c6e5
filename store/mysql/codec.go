package mysql

import (
	"errors"
	"strconv"
	"strings"
)

// Lists of strings (approvers, roles, caveats, hop ids) are stored in a
// binary column as each element's length in decimal, a colon and the
// element's bytes, one after the other: "3:abc0:5:hello" is ["abc", "",
// "hello"]. Unlike JSON this keeps any bytes as they are. A nil list is
// NULL; an empty one is the empty string.

// encodeList encodes list for storage.
func encodeList(list []string) any {
	if list == nil {
		return nil
	}
	var b strings.Builder
	for _, s := range list {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return []byte(b.String())
}

var errBadList = errors.New("stored list is malformed")

// decodeList decodes what encodeList stored.
func decodeList(b []byte) ([]string, error) {
	if b == nil {
		return nil, nil
	}
	list := []string{}
	for len(b) > 0 {
		colon := 0
		for colon < len(b) && '0' <= b[colon] && b[colon] <= '9' {
			colon++
		}
		// Decimal digits, without a leading zero, then a colon.
		if colon == 0 || colon > 10 || colon == len(b) || b[colon] != ':' || colon > 1 && b[0] == '0' {
			return nil, errBadList
		}
		n, err := strconv.Atoi(string(b[:colon]))
		b = b[colon+1:]
		if err != nil || n < 0 || n > len(b) {
			return nil, errBadList
		}
		list = append(list, string(b[:n]))
		b = b[n:]
	}
	return list, nil
}
