package apitest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/duban/duban/api"
)

// Conform, when a package's tests set it, checks every answer Call gets
// against the API's OpenAPI document, with an OpenAPI validator of its own
// (libopenapi-validator): an answer the document does not describe fails
// the test.
var Conform bool

var openAPI = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("the OpenAPI document: %v", errs)
	}
	return v, nil
})

// conforms fails t when the answer to req is not as the document says.
func conforms(t testing.TB, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	v, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := v.ValidateHttpResponse(req, res); !ok {
		if len(errs) == 1 && errs[0].IsPathMissingError() && res.StatusCode == http.StatusNotFound {
			return // a route that does not exist: nothing to describe
		}
		var b strings.Builder
		for _, e := range errs {
			fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				fmt.Fprintf(&b, "\n    %s at %s", se.Reason, se.FieldPath)
			}
		}
		t.Errorf("%s %s answered %d, which the OpenAPI document does not describe:%s\n%s", req.Method, req.URL.Path, res.StatusCode, b.String(), body)
	}
}
