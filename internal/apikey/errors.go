package apikey

import "errors"

// ErrMalformed reports a string that is not an API key: wrong prefix, wrong
// length or a character outside the base62 alphabet. It is the parent of
// every error [Parse] returns.
var ErrMalformed = errors.New("agenttrust: malformed api key")

// ErrChecksum reports a well-formed key whose checksum does not match its
// random part: most likely a typo. errors.Is(ErrChecksum, ErrMalformed) holds.
var ErrChecksum error = &keyError{"agenttrust: api key checksum mismatch", ErrMalformed}

// Detailed reasons, each matching ErrMalformed. They are preallocated so
// that rejecting a bad key costs no allocation, and they never echo the
// input, which may be a (mistyped) secret.
var (
	errPrefix   error = &keyError{"agenttrust: malformed api key: missing \"atk_\" prefix", ErrMalformed}
	errLength   error = &keyError{"agenttrust: malformed api key: want 40 characters", ErrMalformed}
	errAlphabet error = &keyError{"agenttrust: malformed api key: character outside base62 alphabet", ErrMalformed}
	errSource   error = errors.New("agenttrust: api key: random source produced too many out-of-range bytes")
)

// keyError is an error with a fixed message and a parent sentinel.
type keyError struct {
	msg    string
	parent error
}

func (e *keyError) Error() string { return e.msg }
func (e *keyError) Unwrap() error { return e.parent }
