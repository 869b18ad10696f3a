package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/duban/duban"
)

// decode reads the request body into v strictly: JSON only, within the size
// limit, no unknown fields, no wrong types, nothing after the object. An empty
// body is allowed when optional, and leaves v as it is.
func decode(r *http.Request, v any, optional bool) error {
	body, err := readBody(r, optional)
	if err != nil {
		return err
	}
	return decodeJSON(body, v, optional)
}

// readBody reads r's body, which must be JSON unless it is empty and
// optional.
func readBody(r *http.Request, optional bool) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, duban.Errorf(duban.ETOOLARGE, "the request body is larger than %d bytes", maxBodyBytes)
	} else if err != nil {
		return nil, duban.Errorf(duban.EINVALID, "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 && optional {
		return nil, nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); len(bytes.TrimSpace(body)) > 0 &&
		(err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json"))) {
		return nil, duban.Errorf(duban.EMEDIATYPE, "the request body must be JSON, sent with Content-Type: application/json")
	}
	return body, nil
}

// decodeJSON reads body, one JSON value, into v: strictly (no field v
// does not have, nothing after it). An empty body is refused unless
// optional, and leaves v as it is.
func decodeJSON(body []byte, v any, optional bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return duban.Errorf(duban.EINVALID, "a JSON request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return duban.Errorf(duban.EINVALID, "the request body has data after its JSON value")
	}
	return nil
}

// queryProblems are what is wrong with a query's parameters as such: one
// not among allowed (the route's), or one given more than once.
func queryProblems(q url.Values, allowed []string) []duban.FieldError {
	var errs []duban.FieldError
	for name, values := range q {
		if !slices.Contains(allowed, name) {
			errs = append(errs, duban.Field(name, "is not a filter here; use %s", strings.Join(allowed, ", ")))
		} else if len(values) > 1 {
			errs = append(errs, duban.Field(name, "is given more than once"))
		}
	}
	return errs
}

// queryBool reads the optional true or false of parameter name (nil when
// not given), adding a problem to errs when it is neither.
func queryBool(q url.Values, name string, errs *[]duban.FieldError) *bool {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*errs = append(*errs, duban.Field(name, "must be true or false"))
	}
	return &b
}

// queryLimit reads a list's page size: def when not given, else from 1
// to max, adding a problem to errs when it is not.
func queryLimit(q url.Values, def, max int, errs *[]duban.FieldError) int {
	v := q.Get("limit")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		*errs = append(*errs, duban.Field("limit", "must be a whole number from 1 to %d", max))
	}
	return n
}

// invalidQuery is the refusal of a query with errs, by field name; nil
// without any.
func invalidQuery(errs []duban.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortFunc(errs, func(a, b duban.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return duban.Invalid(errs...)
}

// jsonError turns a decoding error into an EINVALID error that points at the field.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return duban.Errorf(duban.EINVALID, "the request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return duban.Errorf(duban.EINVALID, "the request body must be a JSON object")
		}
		return duban.Invalid(duban.Field(field, "must be %s", jsonKind(typ.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return duban.Invalid(duban.Field(name, "is not a known field"))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return duban.Errorf(duban.EINVALID, "the request body is not valid JSON (it ends too early)")
	}
	return duban.Errorf(duban.EINVALID, "the request body is not valid JSON")
}

func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "float64", "float32", "int", "int64", "int32":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "of another type"
}

// idempotencyKey returns the request's Idempotency-Key, checked.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return "", duban.Invalid(duban.Field("Idempotency-Key", "must be at most 200 visible ASCII characters"))
	}
	return key, nil
}

// ifMatch reads If-Match: "<version>" (or W/"<version>"); 0 when absent.
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v <= 0 {
		return 0, duban.Invalid(duban.Field("If-Match", `must be a case version as the ETag gives it, e.g. "3"`))
	}
	return v, nil
}
