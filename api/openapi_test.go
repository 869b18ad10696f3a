package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban/api"
	"github.com/duban/duban/internal/apitest"
)

// Every answer the API's tests get is checked against the OpenAPI document.
func TestMain(m *testing.M) {
	apitest.Conform = true
	os.Exit(m.Run())
}

// The OpenAPI document has every route the router serves, each method of
// it, and nothing else.
func TestOpenAPIMatchesTheRouter(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	var routes []string
	err := chi.Walk((&api.Server{Metrics: http.NotFoundHandler()}).Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range routes {
		if !documented[route] {
			t.Errorf("%s is served but not in the OpenAPI document", route)
		}
		delete(documented, route)
	}
	for route := range documented {
		t.Errorf("the OpenAPI document has %s, which the router does not serve", route)
	}
	if !slices.Contains(routes, "GET /v1/openapi.json") {
		t.Error("the document is not served")
	}
}
