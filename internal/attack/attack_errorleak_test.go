package attack

import (
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/postgres"
)

// TestAttackErrorLeakPostgres: on a real PostgreSQL store whose link is
// cut, what pgx says of the connection, its user, database, host and
// port, stays in the log: the caller gets a code and a generic message.
// server's TestAttackErrorLeak does the same on a store that fails on
// demand.
func TestAttackErrorLeakPostgres(t *testing.T) {
	raw := pgURL(t)
	target, _ := viaProxy(t, raw, "")
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	_, proxied := viaProxy(t, raw, p.Addr())
	st := openPostgres(t, proxied, postgres.WithQueryTimeout(time.Second))

	var log strings.Builder
	var logMu sync.Mutex
	n := newNode(t, st, server.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &log}, nil))))
	t.Cleanup(p.Restore)
	alice, bot := n.key("acme/alice"), n.key("acme/bot")
	n.must(200, "GET", "/v1/keys", alice, nil) // the credentials are cached
	p.Cut()

	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{"user=", "database=", p.Addr(), target[strings.LastIndex(target, ":")+1:], u.User.Username() + "@"}
	if name := strings.TrimPrefix(u.Path, "/"); len(name) > 3 {
		parts = append(parts, name)
	}
	for _, tc := range []struct {
		name, method, path, cred string
		body                     any
		status                   int
	}{
		{"readyz", "GET", "/readyz", "", nil, 503},
		{"keys", "GET", "/v1/keys", alice, nil, 503},
		{"audit", "GET", "/v1/audit", alice, nil, 503},
		{"check", "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"}, 503},
		{"policy", "GET", "/v1/policy", alice, nil, 503},
	} {
		t.Run("link cut/"+tc.name, func(t *testing.T) {
			r := n.do(tc.method, tc.path, tc.cred, tc.body)
			for _, part := range parts {
				if strings.Contains(string(r.body), part) {
					t.Errorf("the response shows %q: %s", part, r.body)
				}
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			m := r.object(t)
			if tc.path == "/readyz" {
				if m["store"] != "store_unavailable" {
					t.Errorf("readyz: %s", r.body)
				}
			} else if r.code() != "store_unavailable" {
				t.Errorf("code: %s", r.body)
			}
		})
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(log.String(), "store unavailable") {
		t.Errorf("the log lacks the store errors: %s", log.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
