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
	validationerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

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

// openAPIModel is the document, read, for its schemas.
var openAPIModel = sync.OnceValues(func() (*v3.Document, error) {
	doc, err := libopenapi.NewDocument(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	return &model.Model, nil
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
		t.Errorf("%s %s answered %d, which the OpenAPI document does not describe:%s\n%s", req.Method, req.URL.Path, res.StatusCode, describe(errs), body)
	}
}

// ConformsToSchema fails t unless body, JSON, is what the document's
// schema name (under components/schemas) describes: for what duban sends
// other than as an answer, such as a webhook's body.
func ConformsToSchema(t testing.TB, name string, body []byte) {
	t.Helper()
	doc, err := openAPIModel()
	if err != nil {
		t.Fatal(err)
	}
	proxy := doc.Components.Schemas.GetOrZero(name)
	if proxy == nil {
		t.Fatalf("the OpenAPI document has no schema %s", name)
	}
	schema, err := proxy.BuildSchema()
	if err != nil {
		t.Fatalf("the OpenAPI document's schema %s: %v", name, err)
	}
	if ok, errs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(schema, body); !ok {
		t.Errorf("not a %s as the OpenAPI document describes it:%s\n%s", name, describe(errs), body)
	}
}

// describe lists a validator's findings, one a line.
func describe(errs []*validationerrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    %s at %s", se.Reason, se.FieldPath)
		}
	}
	return b.String()
}
