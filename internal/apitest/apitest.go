// Package apitest is how duban's tests talk to its API over HTTP, as a
// client would: a request as a principal, its answer read whole.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// File is a body sent as multipart/form-data: one file, in field Field,
// named Name.
type File struct {
	Field, Name string
	Data        []byte
}

// Form is a body sent as multipart/form-data: its fields (name, value
// pairs, in order), then its files.
type Form struct {
	Fields []string
	Files  []File
}

func (f Form) encode(t testing.TB) (io.Reader, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	var err error
	for i := 0; i+1 < len(f.Fields) && err == nil; i += 2 {
		err = w.WriteField(f.Fields[i], f.Fields[i+1])
	}
	for _, file := range f.Files {
		if err != nil {
			break
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, file.Field, file.Name))
		h.Set("Content-Type", "application/octet-stream")
		var part io.Writer
		if part, err = w.CreatePart(h); err == nil {
			_, err = part.Write(file.Data)
		}
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return &buf, w.FormDataContentType()
}

// Call sends a request to base+path as the principal with token (none when
// empty). body is sent as JSON, as it is when it is a string, or as a
// form when it is a File; headers are name, value pairs.
func Call(t testing.TB, base, method, path, token string, body any, headers ...string) Response {
	t.Helper()
	var r io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case File:
		r, contentType = Form{Files: []File{b}}.encode(t)
	case Form:
		r, contentType = b.encode(t)
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if Conform {
		conforms(t, req, res, b)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Expect fails t unless r has status, and decodes r's body into v, if not nil.
func (r Response) Expect(t testing.TB, status int, v any) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatalf("decode %s: %v", r.Body, err)
		}
	}
}
