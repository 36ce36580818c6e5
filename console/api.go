package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/agenttrust/agenttrust/internal/wire"
)

// apiError is an error answer of the API.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("the API answered %d", e.status)
}

// errSignedOut: the API no longer accepts the session's key (revoked,
// expired, its roles changed): the session ends.
var errSignedOut = errors.New("your key is no longer accepted; sign in again")

// maxAPIResponse bounds an API answer the console reads.
const maxAPIResponse = 16 << 20

// recorder is the response of an in-process API call.
type recorder struct {
	h      http.Header
	status int
	buf    bytes.Buffer
	over   bool
}

func (w *recorder) Header() http.Header { return w.h }
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.buf.Len()+len(p) > maxAPIResponse {
		w.over = true
		return 0, errors.New("response too large")
	}
	return w.buf.Write(p)
}

// callAPI calls the server's API in process with key as the bearer, as
// the person's own request: from the person's address (and through the
// same trusted proxies), so the key's IP allowlist applies. body, when
// not nil, is sent as JSON; a 2xx answer is decoded into out (when not
// nil).
func (c *Console) callAPI(r *http.Request, key, method, path string, body, out any) error {
	return c.callAPIContext(r.Context(), r, key, method, path, body, out)
}

func (c *Console) callAPIContext(ctx context.Context, r *http.Request, key, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return err
	}
	if body == nil {
		req.Body = http.NoBody // as a server's request always has one
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	req.TLS = r.TLS
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		req.Header["X-Forwarded-For"] = xff
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{h: http.Header{}}
	c.api.ServeHTTP(rec, req)
	if rec.over {
		return &apiError{status: http.StatusBadGateway, msg: "the API's answer is too large"}
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status < 200 || rec.status > 299 {
		var eb wire.ErrorBody
		_ = json.Unmarshal(rec.buf.Bytes(), &eb)
		if rec.status == http.StatusUnauthorized {
			return errSignedOut
		}
		return &apiError{status: rec.status, code: eb.Error.Code, msg: eb.Error.Message}
	}
	if out != nil && rec.buf.Len() > 0 {
		if err := json.Unmarshal(rec.buf.Bytes(), out); err != nil {
			return fmt.Errorf("agenttrust/console: the API's answer to %s %s: %w", method, path, err)
		}
	}
	return nil
}
