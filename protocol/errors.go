package protocol

import (
	"errors"
	"fmt"
)

// Error categories. Every error returned by a decoder or verifier wraps exactly one of
// these, so callers can decide on a reaction (close, penalise, ignore) with errors.Is, and
// a *FieldError says which field was at fault.
var (
	// ErrTruncated: the input ended before the structure was complete.
	ErrTruncated = errors.New("truncated")
	// ErrTooLarge: a length or count exceeds a protocol limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnknownType: a message or structure type this version does not define.
	ErrUnknownType = errors.New("unknown type")
	// ErrInvalid: well-formed bytes whose values are out of range or inconsistent.
	ErrInvalid = errors.New("invalid")
	// ErrBadSignature: an ed25519 signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrWrongKey: a descriptor is signed by a key other than the stream's.
	ErrWrongKey = errors.New("wrong key")
	// ErrWrongStream: a record belongs to another swarm (info-hash mismatch).
	ErrWrongStream = errors.New("wrong stream")
	// ErrBadHash: piece data does not match the hash in its record.
	ErrBadHash = errors.New("piece hash mismatch")
)

// FieldError reports which field of which structure failed, and why.
type FieldError struct {
	Field  string // e.g. "record.piece count"
	Err    error  // one of the category errors above
	Detail string // human-readable specifics, may be empty
	// Rule: the bytes decoded, and a field rule failed (a descriptor's field rules, spec
	// 7.5 step 4; a record's checks 3 and 7 of 7.9, made while decoding). Receivers ban
	// for these, and close for a decoding failure, which a peer can cause without a forger.
	Rule bool
}

func (e *FieldError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Field, e.Err, e.Detail)
}

func (e *FieldError) Unwrap() error { return e.Err }

// IsFieldRule reports whether err is a field rule failure of decoded bytes (see
// FieldError.Rule) rather than a decoding failure.
func IsFieldRule(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe) && fe.Rule
}

// asRule marks a field check's error as a rule failure.
func asRule(err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.Rule = true
	}
	return err
}

func fieldErr(field string, err error, format string, args ...any) *FieldError {
	d := format
	if len(args) > 0 {
		d = fmt.Sprintf(format, args...)
	}
	return &FieldError{Field: field, Err: err, Detail: d}
}
