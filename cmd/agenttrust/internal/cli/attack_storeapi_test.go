package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// urlOnListen hands over the URL the server logs that it listens on.
type urlOnListen struct {
	slog.Handler
	url chan<- string
}

func (h urlOnListen) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "agenttrust: listening" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "url" {
				h.url <- a.Value.String()
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h urlOnListen) WithAttrs(as []slog.Attr) slog.Handler {
	return urlOnListen{Handler: h.Handler.WithAttrs(as), url: h.url}
}

// running is a Serve in progress over a fresh SQLite file, with the first
// admin key of its system tenant.
type running struct {
	url, admin, db string
	stop           func()
}

func startServe(t *testing.T, storeAPI bool) *running {
	t.Helper()
	dir := t.TempDir()
	r := &running{db: filepath.Join(dir, "agenttrust.db")}
	keyFile := filepath.Join(dir, "admin.key")
	urls := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var logBuf bytes.Buffer
	var mu sync.Mutex
	l := slog.New(urlOnListen{Handler: slog.NewTextHandler(&lockedWriter{w: &logBuf, mu: &mu}, nil), url: urls})
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeConfig{Listen: "127.0.0.1:0", SQLite: r.db, Node: "n1", Logger: l, Notice: io.Discard,
			AdminKeyFile: keyFile, StoreAPI: storeAPI})
	}()
	select {
	case r.url = <-urls:
	case err := <-done:
		cancel()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("Serve: %v\n%s", err, logBuf.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("Serve did not listen")
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.admin = strings.TrimSpace(string(b))
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (r *running) post(t *testing.T, path, cred, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cred)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestAttackStoreAPIByDefault: serve mounted the store API (/v1/store/),
// the raw store.Store that other nodes use, for every admin key of the
// system tenant, the first admin key, a person's, among them. Through it
// that key writes keys, policies and blocks of any tenant with no
// operator record, which the same actions through the public API always
// leave: an audit trail that an admin can step around records nothing
// about admins. The store API is mounted only when asked for
// (--store-api), for the nodes that need it.
func TestAttackStoreAPIByDefault(t *testing.T) {
	var hashes [2]store.Hash
	for i := range hashes {
		planted, err := apikey.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		hashes[i] = apikey.Hash(planted)
	}
	r := startServe(t, false)
	cases := []struct {
		name, path, body string
	}{
		{"create an admin key in another tenant", "/v1/store/create_key",
			fmt.Sprintf(`{"key":{"id":"key_planted","tenant":"acme","agent_id":"mallory","hash":"%s","roles":["admin"],"created_at":"2026-01-01T00:00:00Z"}}`, hashes[0])},
		{"create an admin key in the system tenant", "/v1/store/create_key",
			fmt.Sprintf(`{"key":{"id":"key_planted2","tenant":"system","agent_id":"mallory","hash":"%s","roles":["admin"],"created_at":"2026-01-01T00:00:00Z"}}`, hashes[1])},
		{"replace a tenant's policy", "/v1/store/put_policy",
			`{"policy":{"tenant":"acme","format":"json","body":"` + base64.StdEncoding.EncodeToString([]byte(`{"rules":[{"id":"all","effect":"allow","tools":["*"]}]}`)) + `","updated_at":"2026-01-01T00:00:00Z"},"expect_version":0}`},
		{"list a tenant's keys", "/v1/store/keys", `{"tenant":"system"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := r.post(t, tc.path, r.admin, tc.body)
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			json.Unmarshal([]byte(body), &e)
			if status != http.StatusNotFound || e.Error.Code != "not_found" {
				t.Errorf("status %d, code %q, want 404 not_found: %s", status, e.Error.Code, body)
			}
			// A node pointed here is told what to change.
			if !strings.Contains(body, "--store-api") {
				t.Errorf("the 404 does not name --store-api: %s", body)
			}
		})
	}
	r.stop()
	st, err := sqlite.Open(context.Background(), r.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, h := range hashes {
		if _, err := st.KeyByHash(context.Background(), h); err == nil {
			t.Error("a key was planted through the store API")
		}
	}
	if _, err := st.Policy(context.Background(), "acme"); err == nil {
		t.Error("a policy was put through the store API")
	}
}

// With --store-api the nodes that need the store API have it, as
// before.
func TestStoreAPIWhenAsked(t *testing.T) {
	r := startServe(t, true)
	status, body := r.post(t, "/v1/store/keys", r.admin, `{"tenant":"system"}`)
	if status != http.StatusOK || !strings.Contains(body, `"admin"`) {
		t.Fatalf("store API with --store-api: %d %s", status, body)
	}
}
