package apispec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
)

// specFile is the API description the tests hold the server to.
const specFile = "../../api/openapi.yaml"

// caseHeader names the case a request belongs to, so that the test that
// sent it can read what the checker found. The server ignores it.
const caseHeader = "X-Apispec-Case"

// exchange is one request and its response as the checker saw them.
type exchange struct {
	op      string // the spec's operation, "GET /v1/keys"; "" when the spec has no route for it
	status  int
	body    []byte
	header  http.Header
	reqErr  error // the request does not match the spec
	respErr error // the response does not match the spec
}

// checker is an http.Handler in front of a server: it validates every
// request and every response against the spec with kin-openapi's
// openapi3filter, and records what it found by case. Requests that name
// no case (the TypeScript client's) must match the spec, and so must
// every response: a mismatch fails the test at once.
type checker struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	next   http.Handler
	// bodyWait is the server's body timeout (server.WithBodyTimeout).
	bodyWait time.Duration

	mu      sync.Mutex
	cases   map[string]exchange
	waits   map[string]chan struct{} // closed when the case's exchange is recorded
	covered map[string][]int         // operation -> statuses answered and validated
}

// loadSpec loads and validates the API description. The router matches
// any host: the spec's servers entry names serve's default address, not
// the test server's.
func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specFile)
	if err != nil {
		t.Fatalf("loading %s: %v", specFile, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", specFile, err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

func newChecker(t *testing.T, next http.Handler, bodyWait time.Duration) *checker {
	doc, router := loadSpec(t)
	return &checker{t: t, doc: doc, router: router, next: next, bodyWait: bodyWait,
		cases: map[string]exchange{}, waits: map[string]chan struct{}{}, covered: map[string][]int{}}
}

// replay is a request body read in advance: its bytes, then the error
// that ended the read (io.EOF when it ended well).
type replay struct {
	r   *bytes.Reader
	err error
}

func (b *replay) Read(p []byte) (int, error) {
	n, _ := b.r.Read(p)
	if n == 0 && len(p) > 0 {
		if b.err != nil {
			return 0, b.err
		}
		return 0, io.EOF
	}
	return n, nil
}

func (b *replay) Close() error { return nil }

// options of every validation: undeclared statuses and bodies on
// operations without one are errors, and the request is never changed
// (no defaults filled in).
func (c *checker) options() *openapi3filter.Options {
	o := &openapi3filter.Options{
		IncludeResponseStatus:             true,
		RejectWhenRequestBodyNotSpecified: true,
		SkipSettingDefaults:               true,
		MultiError:                        true,
		AuthenticationFunc:                bearerPresent,
	}
	o.WithCustomSchemaErrorFunc(schemaError)
	return o
}

// schemaError says where a value breaks the spec and why, without the
// schema kin-openapi prints by default.
func schemaError(err *openapi3.SchemaError) string {
	return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
}

// bearerPresent is the spec's one security scheme as a validator can
// check it: an Authorization header with a Bearer credential. Whether
// the credential is good is the server's to say (401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || !strings.EqualFold(in.SecurityScheme.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q is not the bearer scheme the checker knows", in.SecuritySchemeName)
	}
	scheme, cred, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return errors.New("no bearer credential")
	}
	return nil
}

func (c *checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ex exchange
	var body []byte
	var readErr error
	if r.Body != nil && r.Body != http.NoBody {
		// The body is read first, to validate it, within the server's
		// body timeout: a body that does not arrive in time ends in the
		// read error, which the server then meets too (and answers 408).
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Now().Add(c.bodyWait))
		body, readErr = io.ReadAll(r.Body)
		rc.SetReadDeadline(time.Time{})
		r.Body = &replay{r: bytes.NewReader(body), err: readErr}
		if readErr != nil {
			// net/http cancels the request's context on a failed read.
			// The server reads the body only once it has authenticated
			// the caller, with the context still live: so it is here.
			r = r.WithContext(context.WithoutCancel(r.Context()))
		}
	}
	route, params, routeErr := c.router.FindRoute(r)
	var in *openapi3filter.RequestValidationInput
	if routeErr == nil {
		ex.op = r.Method + " " + route.Path
		in = &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: c.options()}
		ex.reqErr = openapi3filter.ValidateRequest(r.Context(), in)
		if body != nil {
			r.Body = &replay{r: bytes.NewReader(body), err: readErr}
		}
	}

	rec := &recorder{ResponseWriter: w}
	c.next.ServeHTTP(rec, r)
	ex.status, ex.header, ex.body = rec.code(), w.Header().Clone(), rec.buf.Bytes()
	if routeErr == nil {
		ex.respErr = c.checkResponse(in, route, ex)
	} else {
		ex.respErr = c.checkUnrouted(routeErr, ex)
	}
	if ex.respErr == nil {
		ex.respErr = c.checkEveryResponse(ex.header)
	}

	id := r.Header.Get(caseHeader)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.respErr == nil && ex.op != "" && (ex.reqErr == nil || id != "") {
		c.covered[ex.op] = append(c.covered[ex.op], ex.status)
	}
	if id != "" {
		c.cases[id] = ex
		close(c.waitLocked(id))
		return
	}
	if ex.reqErr != nil {
		c.t.Errorf("%s %s: the request does not match the spec: %v", r.Method, r.URL, ex.reqErr)
	}
	if ex.respErr != nil {
		c.t.Errorf("%s %s: the response %d does not match the spec: %v\n%s", r.Method, r.URL, ex.status, ex.respErr, ex.body)
	}
}

// checkResponse validates the response of an operation of the spec.
func (c *checker) checkResponse(in *openapi3filter.RequestValidationInput, route *routers.Route, ex exchange) error {
	opts := c.options()
	stream := false
	if ref := route.Operation.Responses.Status(ex.status); ref != nil && ref.Value != nil {
		if len(ref.Value.Content) == 0 && len(ex.body) > 0 {
			return fmt.Errorf("the spec declares no body for %d, the server sent %d bytes", ex.status, len(ex.body))
		}
		stream = ref.Value.Content.Get("text/event-stream") != nil
	}
	if stream {
		// The body is a stream of events, not one value: its events are
		// checked one by one below.
		opts.ExcludeResponseBody = true
	}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ex.status,
		Header:                 ex.header,
		Body:                   io.NopCloser(bytes.NewReader(ex.body)),
		Options:                opts,
	})
	if err != nil || !stream {
		return err
	}
	if ct := ex.header.Get("Content-Type"); ct != "text/event-stream" {
		return fmt.Errorf("event stream with Content-Type %q", ct)
	}
	return c.checkEvents(ex.body)
}

// checkEvents checks a server-sent event stream: each "audit" event's
// data is an AuditRecord and it has an id; each "error" event's data
// names an ErrorCode.
func (c *checker) checkEvents(b []byte) error {
	for block := range strings.SplitSeq(string(b), "\n\n") {
		var event, data, id string
		for line := range strings.SplitSeq(block, "\n") {
			switch {
			case line == "" || strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			default:
				return fmt.Errorf("event stream line %q", line)
			}
		}
		switch event {
		case "":
			if data != "" {
				return fmt.Errorf("event stream data without an event: %q", block)
			}
		case "audit":
			if id == "" {
				return fmt.Errorf("audit event without an id: %q", block)
			}
			if err := c.visit("AuditRecord", []byte(data)); err != nil {
				return fmt.Errorf("audit event: %w", err)
			}
		case "error":
			var e struct{ Code string }
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				return fmt.Errorf("error event: %w", err)
			}
			if err := c.schema("ErrorCode").VisitJSON(e.Code, openapi3.EnableJSONSchema2020(), openapi3.SetSchemaErrorMessageCustomizer(schemaError)); err != nil {
				return fmt.Errorf("error event: %w", err)
			}
		default:
			return fmt.Errorf("event %q is not in the spec", event)
		}
	}
	return nil
}

// everyResponse is the extension that marks a header of
// components.headers as one every answer of the server carries, whatever
// the route and status (404 and 405 included): the checker then requires
// it on every answer and validates its value, and TestEveryOperation
// requires every response of the spec to declare it. An X-Request-Id
// header on every response is declared so:
//
//	components:
//	  headers:
//	    X-Request-Id:
//	      x-every-response: true
//	      required: true
//	      schema: {type: string}
//	  responses:
//	    BadRequest:
//	      headers:
//	        X-Request-Id: {$ref: '#/components/headers/X-Request-Id'}
//	      ...                   # and so in every response of every operation
const everyResponse = "x-every-response"

// everyResponseHeaders are the headers of components.headers marked
// everyResponse.
func (c *checker) everyResponseHeaders() []string {
	var names []string
	for name, ref := range c.doc.Components.Headers {
		if ref.Value != nil && ref.Value.Extensions[everyResponse] == true {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// undeclared lists the responses of the spec that do not declare a
// header marked everyResponse.
func (c *checker) undeclared() []string {
	var missing []string
	for _, name := range c.everyResponseHeaders() {
		for _, op := range c.operations() {
			method, path, _ := strings.Cut(op, " ")
			for code, ref := range c.doc.Paths.Value(path).GetOperation(method).Responses.Map() {
				if ref.Value == nil || ref.Value.Headers[name] == nil {
					missing = append(missing, fmt.Sprintf("%s %s: %s", op, code, name))
				}
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// checkEveryResponse checks the headers marked everyResponse.
func (c *checker) checkEveryResponse(h http.Header) error {
	for _, name := range c.everyResponseHeaders() {
		ref := c.doc.Components.Headers[name]
		v := h.Get(name)
		if v == "" {
			return fmt.Errorf("no %s header, which the spec says every response has", name)
		}
		if sr := ref.Value.Schema; sr != nil && sr.Value != nil {
			if err := sr.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.SetSchemaErrorMessageCustomizer(schemaError)); err != nil {
				return fmt.Errorf("header %s: %w", name, err)
			}
		}
	}
	return nil
}

// checkUnrouted checks the answer to a request the spec has no operation
// for: 404 for a path it does not have, 405 with Allow for a method, each
// with the Error body.
func (c *checker) checkUnrouted(routeErr error, ex exchange) error {
	want := http.StatusNotFound
	switch {
	case errors.Is(routeErr, routers.ErrMethodNotAllowed):
		want = http.StatusMethodNotAllowed
	case !errors.Is(routeErr, routers.ErrPathNotFound):
		return routeErr
	}
	if ex.status != want {
		return fmt.Errorf("api/openapi.yaml has no such operation (%v), yet the server answered %d, not %d: "+
			"add the operation to the spec, or remove it from the server", routeErr, ex.status, want)
	}
	if want == http.StatusMethodNotAllowed && ex.header.Get("Allow") == "" {
		return errors.New("405 without an Allow header")
	}
	if ct := ex.header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("%d with Content-Type %q", ex.status, ct)
	}
	return c.visit("Error", ex.body)
}

func (c *checker) schema(name string) *openapi3.Schema {
	ref := c.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		c.t.Fatalf("the spec has no schema %s", name)
	}
	return ref.Value
}

// visit validates a JSON document against a schema of the spec.
func (c *checker) visit(schema string, b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("not JSON: %w: %q", err, b)
	}
	return c.schema(schema).VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse(), openapi3.SetSchemaErrorMessageCustomizer(schemaError))
}

// done is closed once the checker has recorded the case's exchange.
func (c *checker) done(id string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waitLocked(id)
}

func (c *checker) waitLocked(id string) chan struct{} {
	ch, ok := c.waits[id]
	if !ok {
		ch = make(chan struct{})
		c.waits[id] = ch
	}
	return ch
}

// result is what the checker found for a case.
func (c *checker) result(id string) (exchange, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ex, ok := c.cases[id]
	return ex, ok
}

// statuses are the statuses op answered that matched the spec.
func (c *checker) statuses(op string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.covered[op])
}

// secured reports whether an operation needs a credential: it has the
// document's security unless it says otherwise (security: []).
func (c *checker) secured(op string) bool {
	method, path, _ := strings.Cut(op, " ")
	o := c.doc.Paths.Value(path).GetOperation(method)
	if o.Security != nil {
		return len(*o.Security) > 0
	}
	return len(c.doc.Security) > 0
}

// fill gives an operation's path parameters values the spec accepts:
// the prefix its pattern requires (^apr_) and an x, or x.
func (c *checker) fill(op string) string {
	method, path, _ := strings.Cut(op, " ")
	o := c.doc.Paths.Value(path).GetOperation(method)
	params := append(c.doc.Paths.Value(path).Parameters, o.Parameters...)
	for _, p := range params {
		if p.Value == nil || p.Value.In != "path" {
			continue
		}
		v := "x"
		if sr := p.Value.Schema; sr != nil && sr.Value != nil {
			v = strings.TrimPrefix(sr.Value.Pattern, "^") + "x"
		}
		path = strings.ReplaceAll(path, "{"+p.Value.Name+"}", v)
	}
	return path
}

// operations are the spec's operations, "GET /v1/keys".
func (c *checker) operations() []string {
	var ops []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// answers counts the answers (operation and status) the spec declares,
// and those of them the server gave and the checker validated.
func (c *checker) answers() (reached, declared int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				declared++
				n, err := strconv.Atoi(code)
				if err == nil && slices.Contains(c.covered[method+" "+path], n) {
					reached++
				}
			}
		}
	}
	return reached, declared
}

// uncovered lists the spec's operations that no request reached with a
// success answer that matched the spec.
func (c *checker) uncovered() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing []string
	for _, op := range c.operations() {
		if !slices.ContainsFunc(c.covered[op], func(s int) bool { return s >= 200 && s < 300 }) {
			missing = append(missing, op)
		}
	}
	return missing
}

// recorder passes a response through and keeps a copy of its body.
// Unwrap lets the server reach the connection (read deadlines, flushes).
type recorder struct {
	http.ResponseWriter
	status int
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.mu.Lock()
	r.buf.Write(b)
	r.mu.Unlock()
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// The test server's fixed keys and clock.
var (
	t0          = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	masterKey   = agenttrust.SecretKey{ID: "mk1", Secret: bytes.Repeat([]byte("m"), 32)}
	signingKey  = agenttrust.SecretKey{ID: "sk1", Secret: bytes.Repeat([]byte("s"), 32)}
	scrapeToken = strings.Repeat("scrape-token-", 4)
)

// systemTenant is the test server's operator tenant.
const systemTenant = "ops"

// api is a server over a memory store, behind a checker, on a loopback
// port, with an admin key of the system tenant.
type api struct {
	srv   *server.Server
	ts    *httptest.Server
	check *checker
	admin string // API key of the system tenant's admin
}

// newAPI starts the server; bodyWait is its body timeout.
func newAPI(t *testing.T, bodyWait time.Duration) *api {
	t.Helper()
	auditKey, err := agenttrust.NewAuditKey(bytes.Repeat([]byte("a"), 32))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(memory.New(),
		server.WithNodeName("n1"),
		server.WithIssuer("http://agenttrust.test"),
		server.WithSystemTenant(systemTenant),
		server.WithClock(func() time.Time { return t0 }),
		server.WithAuditKey(auditKey),
		server.WithMetricsToken(scrapeToken),
		server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{masterKey}, SigningKeys: []agenttrust.SecretKey{signingKey}})),
		server.WithBodyTimeout(bodyWait),
	)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{srv: srv, check: newChecker(t, srv, bodyWait)}
	a.ts = httptest.NewServer(a.check)
	t.Cleanup(func() {
		a.ts.Close()
		srv.Close()
	})
	ctx := context.Background()
	c, err := srv.Client(ctx, systemTenant)
	if err != nil {
		t.Fatal(err)
	}
	a.admin, _, err = c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "root", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
