package duban

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Error codes. Code deep inside duban returns an *Error carrying one of these;
// the API maps each code to an HTTP status in exactly one place.
const (
	EINVALID      = "invalid"                // bad input: 400
	EUNAUTHORIZED = "unauthorized"           // no or unknown credentials: 401
	EFORBIDDEN    = "forbidden"              // known principal, not allowed: 403
	ENOTFOUND     = "not_found"              // no such thing, or not visible to the principal: 404
	ECONFLICT     = "conflict"               // the case's state does not allow it: 409
	EPRECONDITION = "precondition_failed"    // a stale If-Match: 412
	ETOOLARGE     = "too_large"              // a body over its limit: 413
	EMEDIATYPE    = "unsupported_media_type" // a body of a type not taken: 415
	ETOOMANY      = "too_many_requests"      // too many commands in flight on one case: 429
	EUNAVAILABLE  = "unavailable"            // a dependency did not answer: 503
	EINTERNAL     = "internal"               // a bug or an unexpected failure: 500
)

// Error is duban's one error type. Code is machine-readable, Message is safe to
// show to the caller, Fields lists invalid input field by field. Text is
// the message as a key and its arguments, for a door that says it in
// another language.
type Error struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
	Text    Text         `json:"text"`
	// RetryAfter is how long a refused caller should wait (ETOOMANY).
	RetryAfter time.Duration `json:"retry_after,omitempty"`
}

// FieldError says what is wrong with one field of the input. Field is a
// dotted path as the client wrote it ("location.lat", "evidence[0].url").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Text    Text   `json:"text"`
}

// Text is a message a person may read, as a key and its arguments: the
// key is the message's English format (the catalogue of another language
// maps it to its own, messages/refusals.zh.json), each argument formatted
// as its verb says, so that a translation takes every one as %s (or
// %[n]s, to reorder them). An argument that is itself a key of the
// catalogue (a role, a deed) is translated with it.
type Text struct {
	Key  string   `json:"key,omitempty"`
	Args []string `json:"args,omitempty"`
}

// textOf returns format and args as a Text and as the English message.
func textOf(format string, args []any) (Text, string) {
	t := Text{Key: format}
	verbs := verb.FindAllString(format, -1)
	for i, a := range args {
		v := "%v"
		if i < len(verbs) {
			v = verbs[i]
		}
		t.Args = append(t.Args, fmt.Sprintf(v, a))
	}
	return t, fmt.Sprintf(format, args...)
}

// verb matches the verbs of a format that take an argument (not %%).
var verb = regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]+)?[a-zA-Z]`)

// Field returns the field error of field, its message formatted.
func Field(field, format string, args ...any) FieldError {
	t, msg := textOf(format, args)
	return FieldError{Field: field, Message: msg, Text: t}
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("duban: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("duban: %s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	t, msg := textOf(format, args)
	return &Error{Code: code, Message: msg, Text: t}
}

// TooMany returns an ETOOMANY error: the caller may try again after wait.
func TooMany(wait time.Duration, format string, args ...any) *Error {
	e := Errorf(ETOOMANY, format, args...)
	e.RetryAfter = wait
	return e
}

// Invalid returns an EINVALID error listing the given field errors.
func Invalid(fields ...FieldError) *Error {
	msg := "the request is invalid"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields, Text: Text{Key: "the request is invalid"}}
}

// ErrorCode returns the code of err if it is or wraps an *Error, else EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err if it is or wraps an
// *Error; for any other error it says only that something went wrong, so that
// internal details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// fieldErrors collects field errors while input is checked.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, Field(field, format, args...))
}

// err returns nil when nothing was collected, else an EINVALID *Error.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(f...)
}

// Unavailable is the error of a dependency that did not answer: EUNAVAILABLE
// with message, safe to show, wrapping cause for the logs.
func Unavailable(message string, cause error) error {
	return fmt.Errorf("%w: %w", Errorf(EUNAVAILABLE, "%s", message), cause)
}
