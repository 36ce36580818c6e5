package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// streamConn is a conn for a test server, with a key given by flag.
func streamConn(t *testing.T, server string) *conn {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c := connFlags(&flags{FlagSet: fs, env: map[string]string{}})
	if _, err := parseInterleaved(fs, []string{"--server", server, "--key", "atk_test"}); err != nil {
		t.Fatal(err)
	}
	return c
}

func auditEvent(w http.ResponseWriter, id string, seq int) {
	fmt.Fprintf(w, "id: %s\nevent: audit\ndata: {\"chain\":\"n1/acme\",\"seq\":%d}\n\n", id, seq)
	w.(http.Flusher).Flush()
}

// The follower reconnects after the stream ends and after a 503, each
// time from the position of the last record it got; records come once.
func TestStreamAuditReconnects(t *testing.T) {
	var mu sync.Mutex
	var lastIDs []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		n := len(lastIDs)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer atk_test" {
			t.Errorf("connection %d: Authorization %q", n, r.Header.Get("Authorization"))
		}
		switch n {
		case 1:
			w.Header().Set("Content-Type", "text/event-stream")
			auditEvent(w, "pos-1", 1)
			auditEvent(w, "pos-2", 2)
			// and the stream ends, as when the server shuts down
		case 2:
			http.Error(w, `{"error":{"code":"unavailable","message":"starting"}}`, http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			auditEvent(w, "pos-3", 3)
			<-r.Context().Done()
		}
	}))
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stderr syncBuffer
	e := &env{stderr: &stderr, getenv: func(string) string { return "" }}
	var seqs []uint64
	err := streamAudit(ctx, e, streamConn(t, ts.URL), store.AuditQuery{}, time.Now(), func(r agenttrust.AuditRecord) error {
		seqs = append(seqs, r.Seq)
		if len(seqs) == 3 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs) != "[1 2 3]" {
		t.Errorf("records %v, want [1 2 3]", seqs)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "pos-2", "pos-2"}; fmt.Sprint(lastIDs) != fmt.Sprint(want) {
		t.Errorf("Last-Event-ID per connection %q, want %q", lastIDs, want)
	}
	for _, want := range []string{"the server ended the stream; reconnecting in 500ms", "HTTP 503); reconnecting in 1s"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q: %s", want, stderr.String())
		}
	}
}

// A refusal, a malformed record or a failing output ends the following
// at once: reconnecting would not help.
func TestStreamAuditStops(t *testing.T) {
	errOutput := errors.New("output closed")
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter)
		fn     func(agenttrust.AuditRecord) error
		want   string
	}{
		{"unauthorized", func(w http.ResponseWriter) {
			http.Error(w, `{"error":{"code":"invalid_token","message":"credential revoked"}}`, http.StatusUnauthorized)
		}, nil, "credential revoked (invalid_token, HTTP 401)"},
		{"malformed record", func(w http.ResponseWriter) {
			fmt.Fprint(w, "id: p\nevent: audit\ndata: {not json\n\n")
		}, nil, "malformed record"},
		{"output fails", func(w http.ResponseWriter) { auditEvent(w, "p", 1) },
			func(agenttrust.AuditRecord) error { return errOutput }, "output closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			conns := 0
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				conns++
				mu.Unlock()
				tc.handle(w)
			}))
			defer ts.Close()
			fn := tc.fn
			if fn == nil {
				fn = func(agenttrust.AuditRecord) error { return nil }
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e := &env{stderr: new(syncBuffer), getenv: func(string) string { return "" }}
			err := streamAudit(ctx, e, streamConn(t, ts.URL), store.AuditQuery{}, time.Now(), fn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if conns != 1 {
				t.Errorf("%d connections, want 1", conns)
			}
		})
	}
}
