package server

import (
	"encoding"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/wire"
	"go.yaml.in/yaml/v3"
)

// spec is api/openapi.yaml, decoded.
type spec struct {
	doc map[string]any
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	b, err := os.ReadFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v, want 3.1.0", doc["openapi"])
	}
	return &spec{doc: doc}
}

// resolve follows a $ref within the document.
func (s *spec) resolve(t *testing.T, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		if !strings.HasPrefix(ref, "#/") {
			t.Fatalf("external $ref %q", ref)
		}
		var cur any = s.doc
		for _, part := range strings.Split(ref[2:], "/") {
			cm, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("$ref %q does not resolve", ref)
			}
			cur = cm[part]
		}
		if cur == nil {
			t.Fatalf("$ref %q does not resolve", ref)
		}
		m, _ = cur.(map[string]any)
	}
	return m
}

func get(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		if m == nil {
			return nil
		}
		m, _ = m[k].(map[string]any)
	}
	return m
}

// specPath is the spec's path for a route's mux pattern.
func specPath(rt *route) string {
	if strings.HasSuffix(rt.path, "/") {
		return rt.path + "{path}"
	}
	return rt.path
}

var methods = []string{"get", "post", "put", "delete", "patch"}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// TestOpenAPI holds api/openapi.yaml and the handler together: every
// route of the mux is in the spec and every operation of the spec is a
// route; path and query parameters match what the handler reads; request
// and response bodies have the fields, types and required members of the
// Go types the handler decodes and encodes.
func TestOpenAPI(t *testing.T) {
	s := loadSpec(t)
	paths := get(s.doc, "paths")
	if len(paths) == 0 {
		t.Fatal("no paths")
	}

	// Every operation of the spec is a route.
	table := map[string]*route{}
	for _, rt := range routeTable() {
		if rt.unlisted {
			continue
		}
		if rt.method == "" {
			for _, m := range methods[:4] {
				table[m+" "+specPath(rt)] = rt
			}
			continue
		}
		table[strings.ToLower(rt.method)+" "+specPath(rt)] = rt
	}
	for p, item := range paths {
		for _, m := range methods {
			if _, ok := item.(map[string]any)[m]; ok {
				if table[m+" "+p] == nil {
					t.Errorf("api/openapi.yaml has %s %s; the server has no such route in routeTable", strings.ToUpper(m), p)
				}
			}
		}
	}

	// Every route registered in the mux is in the spec.
	stub := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	srv, err := New(newMemoryStore(), WithStoreAPI(stub))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, rt := range srv.routes {
		method := rt.method
		if method == "" {
			method = "POST"
		}
		path := pathParam.ReplaceAllString(specPath(rt), "x")
		req, _ := http.NewRequest(method, "http://h"+path, nil)
		if _, pattern := srv.mux.Handler(req); pattern != rt.pattern() {
			t.Errorf("%s %s is served by %q, not by its route", method, path, pattern)
		}
	}

	for _, rt := range routeTable() {
		name := rt.name()
		t.Run(name, func(t *testing.T) {
			item := get(paths, specPath(rt))
			if rt.unlisted {
				if item != nil {
					t.Fatalf("route %s is unlisted, but api/openapi.yaml has it", name)
				}
				return
			}
			if item == nil {
				t.Fatalf("the server has route %s; api/openapi.yaml does not: add it under paths (and a case to internal/apispec's cases)", name)
			}
			ops := []string{strings.ToLower(rt.method)}
			if rt.method == "" {
				ops = methods[:4]
			}
			for _, m := range ops {
				op := get(item, m)
				if op == nil {
					t.Fatalf("the server has %s %s; api/openapi.yaml does not: add the operation (and a case to internal/apispec's cases)", strings.ToUpper(m), specPath(rt))
				}
				checkParams(t, s, rt, item, op)
				if rt.method == "" {
					continue // a mounted handler: its bodies are its own
				}
				checkRequestBody(t, s, rt, op)
				checkResponseBody(t, s, rt, op)
				checkSecurity(t, rt, op)
			}
		})
	}
}

func checkParams(t *testing.T, s *spec, rt *route, item, op map[string]any) {
	t.Helper()
	var pathParams, query, headers []string
	for _, list := range []any{item["parameters"], op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			pm := s.resolve(t, p)
			switch pm["in"] {
			case "path":
				if pm["required"] != true {
					t.Errorf("path parameter %v not required", pm["name"])
				}
				pathParams = append(pathParams, pm["name"].(string))
			case "query":
				query = append(query, pm["name"].(string))
			case "header":
				headers = append(headers, pm["name"].(string))
			default:
				t.Errorf("parameter %v in %v", pm["name"], pm["in"])
			}
		}
	}
	var want []string
	for _, m := range pathParam.FindAllStringSubmatch(specPath(rt), -1) {
		want = append(want, m[1])
	}
	sameSet(t, "path parameters", want, pathParams)
	sameSet(t, "query parameters", rt.query, query)
	sameSet(t, "header parameters", rt.headers, headers)
}

func checkRequestBody(t *testing.T, s *spec, rt *route, op map[string]any) {
	t.Helper()
	body := s.resolve(t, op["requestBody"])
	if rt.raw && rt.method == http.MethodPost {
		return // the handler reads the body itself, not as JSON (the token endpoint's form)
	}
	if rt.req == nil {
		if body != nil {
			t.Errorf("the spec has a request body; the handler takes none")
		}
		return
	}
	if body == nil {
		t.Fatalf("the handler decodes %T; the spec has no request body", rt.req)
	}
	if req, _ := body["required"].(bool); req == rt.emptyBody {
		t.Errorf("requestBody.required = %v, but the handler's emptyBody = %v", req, rt.emptyBody)
	}
	schema := s.resolve(t, get(body, "content", "application/json")["schema"])
	if schema == nil {
		t.Fatal("request body without an application/json schema")
	}
	compare(t, s, "request", reflect.TypeOf(rt.req), schema, false)
}

func checkResponseBody(t *testing.T, s *spec, rt *route, op map[string]any) {
	t.Helper()
	responses := get(op, "responses")
	res := s.resolve(t, responses[strconv.Itoa(rt.status)])
	if res == nil {
		t.Fatalf("the spec has no %d response", rt.status)
	}
	content := get(res, "content")
	if rt.resp == nil {
		if rt.status == http.StatusNoContent && content != nil {
			t.Errorf("204 with content")
		}
		if rt.status != http.StatusNoContent && content == nil {
			t.Errorf("%d without content", rt.status)
		}
		return
	}
	schema := s.resolve(t, get(content, "application/json")["schema"])
	if schema == nil {
		t.Fatalf("%d response without an application/json schema", rt.status)
	}
	compare(t, s, "response", reflect.TypeOf(rt.resp), schema, true)
	for code := range responses {
		n, err := strconv.Atoi(code)
		if err != nil || n < 400 || n == http.StatusServiceUnavailable && rt.path == "/readyz" {
			continue
		}
		{
			schema := s.resolve(t, get(s.resolve(t, responses[code]), "content", "application/json")["schema"])
			errType := reflect.TypeOf(wire.ErrorBody{})
			if strings.HasPrefix(rt.path, "/oauth/") && (n == http.StatusBadRequest || n == http.StatusUnauthorized) {
				errType = reflect.TypeOf(wire.OAuthError{}) // RFC 6749 section 5.2
			}
			compare(t, s, code+" response", errType, schema, true)
		}
	}
}

func checkSecurity(t *testing.T, rt *route, op map[string]any) {
	t.Helper()
	sec, has := op["security"]
	open := has && len(sec.([]any)) == 0
	if open != (rt.access == public) {
		t.Errorf("spec says open = %v; route access = %v", open, rt.access)
	}
	responses := get(op, "responses")
	if rt.access != public && responses["401"] == nil {
		t.Errorf("authenticated route without a 401 response")
	}
	if rt.access != public && rt.access != authed && responses["403"] == nil {
		t.Errorf("route with roles without a 403 response")
	}
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
	textType = reflect.TypeFor[encoding.TextMarshaler]()
)

// compare checks that schema describes Go type typ as encoding/json (or,
// for requests, the strict decoder) sees it. In a response, the members
// that are always present (no omitempty) must be required; in a request,
// a required member must exist.
func compare(t *testing.T, s *spec, where string, typ reflect.Type, schema map[string]any, response bool) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	stype, _ := schema["type"].(string)
	switch {
	case typ == timeType:
		if stype != "string" || schema["format"] != "date-time" {
			t.Errorf("%s: %v should be a date-time string, the spec has %v", where, typ, schema)
		}
		return
	case typ == rawType || typ.Kind() == reflect.Map || typ.Kind() == reflect.Interface:
		if stype != "object" && stype != "" {
			t.Errorf("%s: %v should be an object, the spec has type %q", where, typ, stype)
		}
		return
	case typ.Implements(textType):
		if stype != "string" {
			t.Errorf("%s: %v marshals as text, the spec has type %q", where, typ, stype)
		}
		return
	}
	switch typ.Kind() {
	case reflect.String:
		want(t, where, typ, stype, "string")
	case reflect.Bool:
		want(t, where, typ, stype, "boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want(t, where, typ, stype, "integer")
	case reflect.Float32, reflect.Float64:
		want(t, where, typ, stype, "number")
	case reflect.Slice:
		want(t, where, typ, stype, "array")
		compare(t, s, where+"[]", typ.Elem(), s.resolve(t, schema["items"]), response)
	case reflect.Struct:
		want(t, where, typ, stype, "object")
		props := get(schema, "properties")
		var required []string
		if rs, ok := schema["required"].([]any); ok {
			for _, r := range rs {
				required = append(required, r.(string))
			}
		}
		var names, always []string
		for f := range typ.Fields() {
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				t.Errorf("%s: %v.%s has no json name", where, typ, f.Name)
				continue
			}
			names = append(names, name)
			if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
				always = append(always, name)
			}
			ps := s.resolve(t, props[name])
			if ps == nil {
				continue // reported by sameSet below
			}
			compare(t, s, where+"."+name, f.Type, ps, response)
		}
		specNames := make([]string, 0, len(props))
		for k := range props {
			specNames = append(specNames, k)
		}
		sameSet(t, where+" "+typ.String()+" members", names, specNames)
		if response {
			sameSet(t, where+" "+typ.String()+" required members", always, required)
		} else {
			for _, r := range required {
				if !slices.Contains(names, r) {
					t.Errorf("%s: required member %q is not a field of %v", where, r, typ)
				}
			}
		}
	default:
		t.Errorf("%s: no rule for %v", where, typ)
	}
}

func want(t *testing.T, where string, typ reflect.Type, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: %v should be %q in the spec, not %q", where, typ, want, got)
	}
}

func sameSet(t *testing.T, what string, want, got []string) {
	t.Helper()
	w, g := slices.Clone(want), slices.Clone(got)
	sort.Strings(w)
	sort.Strings(g)
	if !slices.Equal(w, g) {
		t.Errorf("%s: handler has %v, spec has %v", what, w, g)
	}
}

// TestErrorCodes holds the spec's ErrorCode enum to the codes the server
// can send: those of errs.Code's table, and every code written in the
// package's source, as badRequest's first argument or as the code of an
// apiError or a wire.ErrorDetail. A code the server sends must be in the
// enum (a generated client would refuse it), and a code in the enum must
// be one the server sends.
func TestErrorCodes(t *testing.T) {
	s := loadSpec(t)
	var enum []string
	for _, v := range get(s.doc, "components", "schemas", "ErrorCode")["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	codes := map[string]bool{}
	fset := token.NewFileSet()
	// The table of errs.Code, read from its source: each entry is
	// {err, "code"}.
	root, err := parser.ParseFile(fset, "../internal/errs/errs.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(root, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "errorCodes" || len(vs.Values) != 1 {
			return true
		}
		for _, el := range vs.Values[0].(*ast.CompositeLit).Elts {
			entry := el.(*ast.CompositeLit)
			code, err := strconv.Unquote(entry.Elts[1].(*ast.BasicLit).Value)
			if err != nil {
				t.Fatal(err)
			}
			codes[code] = true
		}
		return false
	})
	if len(codes) < 20 {
		t.Fatalf("found only %d codes in the errorCodes table of internal/errs: the scan is broken", len(codes))
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var lit ast.Expr
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "badRequest" && len(n.Args) > 0 {
					lit = n.Args[0]
				}
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok && (id.Name == "code" || id.Name == "Code") {
					lit = n.Value
				}
			}
			if bl, ok := lit.(*ast.BasicLit); ok && bl.Kind == token.STRING {
				code, err := strconv.Unquote(bl.Value)
				if err != nil {
					t.Fatal(err)
				}
				codes[code] = true
			}
			return true
		})
	}
	if len(codes) < 20 {
		t.Fatalf("found only %d error codes in the source: the scan is broken", len(codes))
	}
	sent := make([]string, 0, len(codes))
	for c := range codes {
		sent = append(sent, c)
	}
	sameSet(t, "error codes (components.schemas.ErrorCode.enum)", sent, enum)
}

// TestEveryHandlerIsARoute: the mux serves only routeTable's routes (held
// to api/openapi.yaml by TestOpenAPI) and the not-found fallback. A
// handler registered on the mux any other way would be an API the spec
// does not describe and no test validates.
func TestEveryHandlerIsARoute(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var calls []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc" || !isMux(sel.X) {
				return true
			}
			if len(call.Args) == 0 {
				return true
			}
			arg := call.Args[0]
			switch {
			case isCall(arg, "pattern"): // the loop over routeTable
			case isString(arg, "/"): // notFound
			case isIdent(arg, "ConsolePath"), isString(arg, "GET /ui"):
				// The web console (WithConsole): HTML pages, not the JSON
				// API; package console's tests hold it, and it reaches the
				// API only through the routes of routeTable.
			default:
				calls = append(calls, fset.Position(call.Pos()).String())
			}
			return true
		})
	}
	if len(calls) > 0 {
		t.Errorf("handlers registered outside routeTable at %v: add them to routeTable, and so to api/openapi.yaml", calls)
	}
}

func isCall(e ast.Expr, method string) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == method
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func isString(e ast.Expr, s string) bool {
	bl, ok := e.(*ast.BasicLit)
	return ok && bl.Kind == token.STRING && bl.Value == strconv.Quote(s)
}

// isMux reports whether e names a ServeMux of the package: mux or x.mux.
func isMux(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "mux"
	case *ast.SelectorExpr:
		return e.Sel.Name == "mux"
	}
	return false
}
