package api

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sync"

	"gopkg.in/yaml.v3"
)

// openAPIYAML is the API's OpenAPI 3.1 document, written as YAML.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the document as JSON, as GET /v1/openapi.json serves it.
var OpenAPI = sync.OnceValue(func() []byte {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		panic("api: the embedded openapi.yaml is invalid: " + err.Error())
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("api: openapi.yaml does not convert to JSON: " + err.Error())
	}
	return b
})

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	replyRaw(w, http.StatusOK, OpenAPI())
}
