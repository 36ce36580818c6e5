package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAttackRevokeBlockedByLookup: revoke first asks what the id names
// (the tenant's keys, then the audit trail), only to describe it. When
// that lookup failed (the key list slower than --timeout in a tenant of
// many keys, a 5xx) the command exited 1 without revoking: the kill
// switch depended on an informational read. The revocation must be made,
// with a warning that the id could not be identified.
func TestAttackRevokeBlockedByLookup(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys func(w http.ResponseWriter, r *http.Request)
	}{
		{"key list fails", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":{"code":"internal","message":"list failed"}}`))
		}},
		{"key list slower than --timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			revoked := []string{}
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.URL.Path == "/v1/keys":
					tc.keys(w, r)
				case r.URL.Path == "/v1/revocations" && r.Method == http.MethodPost:
					mu.Lock()
					revoked = append(revoked, r.URL.Path)
					mu.Unlock()
					w.WriteHeader(http.StatusNoContent)
				default:
					w.Write([]byte(`{"records":[]}`))
				}
			}))
			t.Cleanup(ts.Close)
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "",
				"revoke", "--timeout", "300ms", "--retries", "0", "sess-evil")
			mu.Lock()
			defer mu.Unlock()
			if res.code != 0 || len(revoked) != 1 {
				t.Errorf("exit %d, %d revocation(s) asked; want the revocation made\nstdout: %s\nstderr: %s", res.code, len(revoked), res.stdout, res.stderr)
			}
			if !strings.Contains(res.stderr, "could not tell what") {
				t.Errorf("stderr does not say the id could not be identified: %s", res.stderr)
			}
		})
	}
}
