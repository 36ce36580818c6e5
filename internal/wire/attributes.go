package wire

import (
	"encoding/json"
	"errors"

	"github.com/go-json-experiment/json/jsontext"
)

// Attributes are a request's attributes. Decoded by encoding/json/v2 (as
// the server decodes request bodies), every number keeps the text it was
// sent as, a json.Number, at any depth: the engine compares those exactly
// or calls them unknown, where a float64 would round 12345678901234567
// onto ...568 and 100.000000000000001 onto 100. Objects become
// map[string]any and arrays []any; the decoder refuses duplicate names
// and invalid UTF-8 as for the rest of the body.
type Attributes map[string]any

var errAttributesNotObject = errors.New("attributes must be a JSON object")

// UnmarshalJSONFrom implements json/v2's UnmarshalerFrom.
func (a *Attributes) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		*a = nil
		return err
	case '{':
	default:
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return errAttributesNotObject
	}
	v, err := decodeValue(dec)
	if err != nil {
		return err
	}
	*a = v.(map[string]any)
	return nil
}

// decodeValue decodes the next JSON value, numbers as json.Number.
func decodeValue(dec *jsontext.Decoder) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			name, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			k := name.String() // before the next read voids the token
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return m, nil
	case '[':
		l := []any{}
		for dec.PeekKind() != ']' {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return l, nil
	case '0':
		return json.Number(tok.String()), nil
	case '"':
		return tok.String(), nil
	case 't', 'f':
		return tok.Bool(), nil
	default: // 'n'
		return nil, nil
	}
}
