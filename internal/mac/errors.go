package mac

import "errors"

// ErrMalformed is the parent of every error that reports bytes that are not
// a canonical V2 macaroon. The sentinels below that say so match it under
// errors.Is.
var ErrMalformed = errors.New("agenttrust: malformed macaroon")

// Decoding errors, each matching ErrMalformed.
var (
	// ErrVersion: the first byte is not 2 (V1 and JSON forms are not accepted).
	ErrVersion error = &macError{"agenttrust: malformed macaroon: not V2 binary format", ErrMalformed}
	// ErrTruncated: the input ends inside a packet or before the signature.
	ErrTruncated error = &macError{"agenttrust: malformed macaroon: truncated", ErrMalformed}
	// ErrTrailingData: bytes follow the signature.
	ErrTrailingData error = &macError{"agenttrust: malformed macaroon: trailing data after signature", ErrMalformed}
	// ErrUnknownField: a field type outside the V2 format.
	ErrUnknownField error = &macError{"agenttrust: malformed macaroon: unknown field type", ErrMalformed}
	// ErrDuplicateField: the same field twice in one section.
	ErrDuplicateField error = &macError{"agenttrust: malformed macaroon: duplicate field", ErrMalformed}
	// ErrUnexpectedField: a known field out of order or in the wrong
	// section, or a required field missing.
	ErrUnexpectedField error = &macError{"agenttrust: malformed macaroon: unexpected or missing field", ErrMalformed}
	// ErrNonCanonical: an encoding the library never produces, such as an
	// over-long varint or an empty location packet.
	ErrNonCanonical error = &macError{"agenttrust: malformed macaroon: non-canonical encoding", ErrMalformed}
	// ErrSignatureLength: the signature field is not 32 bytes.
	ErrSignatureLength error = &macError{"agenttrust: malformed macaroon: signature is not 32 bytes", ErrMalformed}
)

// Limits and unsupported features. These do not match ErrMalformed: the
// bytes may be a valid macaroon that this package declines to handle.
var (
	// ErrTooLarge: the encoding is, or would become, larger than MaxSize.
	ErrTooLarge = errors.New("agenttrust: macaroon larger than 16384 bytes")
	// ErrTooManyCaveats: more than MaxCaveats caveats.
	ErrTooManyCaveats = errors.New("agenttrust: macaroon has more than 64 caveats")
	// ErrThirdPartyCaveat: a caveat carries a verification id field.
	ErrThirdPartyCaveat = errors.New("agenttrust: third-party macaroon caveats are not supported")
)

// Verification and construction errors.
var (
	// ErrSignature: the signature chain does not match the root key.
	ErrSignature = errors.New("agenttrust: macaroon signature mismatch")
	// ErrRootKey: the root key is shorter than MinRootKeySize.
	ErrRootKey = errors.New("agenttrust: macaroon root key shorter than 16 bytes")
	// ErrZeroBuilder: a Builder used without New.
	ErrZeroBuilder = errors.New("agenttrust: macaroon Builder not created with New")
	// ErrMarks: VerifyBefore's caveat indices are out of range or order,
	// or its before slice is too short for them.
	ErrMarks = errors.New("agenttrust: macaroon caveat marks out of range or order")
)

// macError is an error with a fixed message and a parent sentinel. Values
// are preallocated, so returning one costs no allocation.
type macError struct {
	msg    string
	parent error
}

func (e *macError) Error() string { return e.msg }
func (e *macError) Unwrap() error { return e.parent }
