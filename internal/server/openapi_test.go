package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"modelgate/internal/gate/gatetest"
)

// apiSpec holds docs/openapi.yaml and checks responses against it: each
// documented JSON response body must validate against its schema, and each
// status must be documented for its operation.
type apiSpec struct {
	doc      map[string]any
	base     string
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
	seen     map[string]bool // "GET /v1/scans" → exercised
}

func loadSpec(t *testing.T) *apiSpec {
	t.Helper()
	path := filepath.Join(gatetest.Root(), "docs", "openapi.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	js, err := json.Marshal(y)
	if err != nil {
		t.Fatalf("openapi.yaml as JSON: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	base := (&url.URL{Scheme: "file", Path: filepath.Join(filepath.Dir(path), "openapi.json")}).String()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(base, doc); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(js, &m)
	return &apiSpec{doc: m, base: base, compiler: c, schemas: map[string]*jsonschema.Schema{}, seen: map[string]bool{}}
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func lookup(m any, keys ...string) (any, bool) {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil, false
		}
		if m, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return m, true
}

// responseSchema returns the JSON pointer of a response's JSON schema, ""
// if the response has no JSON body, or an error if it is undocumented.
func (s *apiSpec) responseSchema(method, template string, status int) (string, error) {
	code := fmt.Sprint(status)
	resp, ok := lookup(s.doc, "paths", template, strings.ToLower(method), "responses", code)
	if !ok {
		return "", fmt.Errorf("%s %s: status %d is not documented", method, template, status)
	}
	ptr := "#/paths/" + pointerEscape(template) + "/" + strings.ToLower(method) + "/responses/" + code
	if ref, ok := lookup(resp, "$ref"); ok {
		ptr = ref.(string)
		name := strings.TrimPrefix(ptr, "#/components/responses/")
		resp, _ = lookup(s.doc, "components", "responses", name)
	}
	if _, ok := lookup(resp, "content", "application/json", "schema"); !ok {
		return "", nil
	}
	return ptr + "/content/application~1json/schema", nil
}

func (s *apiSpec) schema(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.schemas[ptr]; ok {
		return sc, nil
	}
	sc, err := s.compiler.Compile(s.base + ptr)
	if err != nil {
		return nil, err
	}
	s.schemas[ptr] = sc
	return sc, nil
}

// check validates a response and records the operation as exercised.
func (s *apiSpec) check(t *testing.T, method, template string, status int, contentType string, body []byte) {
	t.Helper()
	s.mu.Lock()
	s.seen[method+" "+template] = true
	s.mu.Unlock()
	ptr, err := s.responseSchema(method, template, status)
	if err != nil {
		t.Errorf("%v (body %s)", err, body)
		return
	}
	if ptr == "" {
		return
	}
	if !strings.HasPrefix(contentType, "application/json") {
		t.Errorf("%s %s %d: content type %q, documented as JSON", method, template, status, contentType)
		return
	}
	sc, err := s.schema(ptr)
	if err != nil {
		t.Fatalf("compiling %s: %v", ptr, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s %s %d: body is not JSON: %v", method, template, status, err)
		return
	}
	if err := sc.Validate(v); err != nil {
		t.Errorf("%s %s %d: body does not match docs/openapi.yaml: %v\nbody: %s", method, template, status, err, body)
	}
}

// operations lists the documented operations as "METHOD /path".
func (s *apiSpec) operations() []string {
	var out []string
	paths, _ := s.doc["paths"].(map[string]any)
	for p, item := range paths {
		for m := range item.(map[string]any) {
			switch m {
			case "get", "put", "post", "delete", "patch":
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// client calls the server and checks every response against the spec.
type client struct {
	t    *testing.T
	base string
	spec *apiSpec
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r response) errorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// do sends a request. template is the documented path (with {params});
// path is the concrete one with its query.
// typedBody is a request body with its own Content-Type.
type typedBody struct {
	contentType string
	body        []byte
}

func (c *client) do(method, template, path, token string, body any) response {
	c.t.Helper()
	var rd *bytes.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case []byte:
		rd = bytes.NewReader(b)
	case typedBody:
		rd, ctype = bytes.NewReader(b.body), b.contentType
	default:
		js, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	c.spec.check(c.t, method, template, resp.StatusCode, resp.Header.Get("Content-Type"), buf.Bytes())
	return response{resp.StatusCode, resp.Header, buf.Bytes()}
}
