package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/mac"
)

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// forgedToken is a token in the right format claiming tenant, signed with
// a key no node holds.
func forgedToken(t testing.TB, tenant string) string {
	var root [32]byte
	rand.Read(root[:])
	b, err := mac.New(root[:], []byte("at1|tok_forged|key_forged|mk1"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"tenant = " + tenant, "agent = bot", "expires < 2030-01-01T00:00:00Z"} {
		if err := b.AddCaveat([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := b.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// TestAttackCacheFlood presents a flood of distinct credentials to the
// server's authentication, which every route passes: the live heap stays
// within 64 MiB, and each is answered as it should be.
func TestAttackCacheFlood(t *testing.T) {
	e := newEnv(t)
	base := e.exchange(e.key("acme/bot"))
	count := func(n int) int {
		if testing.Short() {
			return n / 10
		}
		return n
	}
	wide := "resource in *," + strings.Repeat("r", 1500)
	longTenant := strings.Repeat("t", 4000)
	cases := []struct {
		name   string
		n      int
		cred   func(i int) string
		status int
		code   string
	}{
		{"distinct-valid-tokens", count(100_000), func(int) string {
			tok, err := agenttrust.Attenuate(base, wide)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, http.StatusOK, ""},
		{"distinct-tenants-claimed", count(100_000), func(i int) string {
			return forgedToken(t, fmt.Sprintf("%s%d", longTenant, i))
		}, http.StatusUnauthorized, "bad_signature"},
		{"distinct-api-key-lookalikes", count(100_000), func(int) string {
			k, err := apikey.Generate(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}, http.StatusUnauthorized, "unknown_key"},
		{"distinct-oversized", count(20_000), func(i int) string {
			return fmt.Sprintf("%s%0*d", agenttrust.TokenPrefix, agenttrust.MaxCredentialSize, i)
		}, http.StatusUnauthorized, "credential_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := liveHeap()
			peak := before
			for i := range tc.n {
				if i%8192 == 8191 {
					peak = max(peak, liveHeap()) // an entry-bounded cache peaks before it resets
				}
				req := httptest.NewRequest("GET", "/v1/whoami", nil)
				req.Header.Set("Authorization", "Bearer "+tc.cred(i))
				w := httptest.NewRecorder()
				e.srv.ServeHTTP(w, req)
				if w.Code != tc.status {
					t.Fatalf("request %d: status %d, want %d: %s", i, w.Code, tc.status, w.Body)
				}
				if tc.code != "" {
					var body struct {
						Error struct{ Code string } `json:"error"`
					}
					json.Unmarshal(w.Body.Bytes(), &body)
					if body.Error.Code != tc.code {
						t.Fatalf("request %d: error %s, want code %q", i, w.Body, tc.code)
					}
				}
			}
			peak = max(peak, liveHeap())
			t.Logf("%d distinct credentials: live heap %d MiB, at most %d MiB", tc.n, before>>20, peak>>20)
			if peak-before > 64<<20 {
				t.Fatalf("live heap grew by %d MiB over %d distinct credentials; bound 64 MiB", (peak-before)>>20, tc.n)
			}
		})
	}
}
