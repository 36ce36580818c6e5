package storeapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// MaxBodySize bounds a request or an answer of the store API: a policy
// document of agenttrust.MaxPolicySize in base64, with room to spare.
const MaxBodySize = 128 << 20

// APIHeader is set on every answer of a Handler, to APIVersion. A Client
// takes an answer without it for one of something else in front of the
// store API (a proxy, the server's authentication, a router that has no
// such route) and reports store.ErrUnavailable rather than, say, reading
// a router's 404 as store.ErrNotFound.
const (
	APIHeader  = "Agenttrust-Store-Api"
	APIVersion = "1"
)

// HandlerOption configures NewHandler and NewEvaluateHandler.
type HandlerOption func(*handler)

// WithPolicyEngine makes the handler serve the evaluate route with e.
func WithPolicyEngine(e agenttrust.PolicyEngine) HandlerOption {
	return func(h *handler) { h.b.engine = e }
}

// WithLogger sets where the handler logs errors whose detail it withholds
// from the caller (code internal). The default discards.
func WithLogger(l *slog.Logger) HandlerOption {
	return func(h *handler) {
		if l != nil {
			h.log = l
		}
	}
}

// handler serves the store API.
type handler struct {
	b      backend
	routes map[string]*route
	log    *slog.Logger
}

// NewHandler returns the store API over st: one POST route per method of
// store.Store (see the package documentation), plus evaluate when
// WithPolicyEngine is given. It does not authenticate: mount it behind a
// check that only the system's operators pass, since it reads and writes
// every tenant's state. Safe for concurrent use if st is.
func NewHandler(st store.Store, opts ...HandlerOption) http.Handler {
	h := &handler{b: backend{st: st}, routes: routeTable(), log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// NewEvaluateHandler returns a handler serving only the evaluate route,
// which answers agenttrust.PolicyEngine.Evaluate with e. A server mounts it
// beside the store API, for example
//
//	mux.Handle("POST /v1/store/evaluate", http.StripPrefix("/v1/store", storeapi.NewEvaluateHandler(engine)))
//
// where engine picks the policy of PolicyInput.Tenant (the input names
// it). Like NewHandler it does not authenticate.
func NewEvaluateHandler(e agenttrust.PolicyEngine, opts ...HandlerOption) http.Handler {
	return NewHandler(nil, append([]HandlerOption{WithPolicyEngine(e)}, opts...)...)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(APIHeader, APIVersion)
	w.Header().Set("Cache-Control", "no-store")
	name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	rt := h.routes[name]
	if rt == nil || (rt.engine && h.b.engine == nil) || (!rt.engine && h.b.st == nil) {
		h.fail(w, http.StatusNotFound, CodeUnknownRoute, "no store API route "+quote(name))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, CodeMethod, "use POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.fail(w, http.StatusUnsupportedMediaType, CodeMediaType, "send Content-Type: application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			h.fail(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "request body too large")
			return
		}
		h.fail(w, http.StatusBadRequest, CodeInvalid, "reading the request body: "+err.Error())
		return
	}
	in := rt.newIn()
	if err := decodeStrict(body, rt.in, in); err != nil {
		h.fail(w, http.StatusBadRequest, CodeInvalid, err.Error())
		return
	}
	out, err := rt.serve(r.Context(), &h.b, in)
	if err != nil {
		h.failErr(r.Context(), w, rt, err)
		return
	}
	data, err := encode(out)
	if err != nil {
		h.failErr(r.Context(), w, rt, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// failErr answers an error of the store (or engine) with its code. The
// message of an outage or of an error that is not a known sentinel is
// withheld and logged: a driver's error may name the database's user,
// name, host and port.
func (h *handler) failErr(ctx context.Context, w http.ResponseWriter, rt *route, err error) {
	code, status := codeOf(err)
	msg := err.Error()
	switch code {
	case CodeInternal:
		h.log.ErrorContext(ctx, "agenttrust store API: internal error", "route", rt.name, "err", err)
		msg = "internal error"
	case CodeCorrupt:
		h.log.ErrorContext(ctx, "agenttrust store API: stored data edited behind the store's back", "route", rt.name, "err", err)
		msg = "stored data edited behind the store's back"
	case CodeUnavailable, CodeClosed, CodeDeadlineExceeded:
		h.log.WarnContext(ctx, "agenttrust store API: store unavailable", "route", rt.name, "err", err)
		msg = "store unavailable"
	}
	h.fail(w, status, code, msg)
}

func (h *handler) fail(w http.ResponseWriter, status int, code, msg string) {
	data, err := encode(&errorBody{Error: errorDetail{Code: code, Message: strings.ToValidUTF8(msg, "\uFFFD")}})
	if err != nil { // cannot happen: two valid strings
		data = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// quote bounds and quotes a caller-supplied name for a message.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "\uFFFD") + `"`
}
