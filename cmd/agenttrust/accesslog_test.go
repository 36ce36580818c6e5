package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve writes a line per request at level info, in the log's format.
func TestServeAccessLog(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-format", "text"}, `level=INFO msg="agenttrust/server: request" method=GET route="GET /v1/whoami" status=401 latency=`},
		{[]string{"--log-format", "json"}, `"level":"INFO","msg":"agenttrust/server: request","method":"GET","route":"GET /v1/whoami","status":401,"latency":`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"--data", filepath.Join(t.TempDir(), "at.db")}, tc.args...)
			url, stderr := serveInProcess(t, args...)
			res, err := http.Get(url + "/v1/whoami")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && !strings.Contains(stderr.String(), tc.want) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("no access line %q in: %s", tc.want, stderr)
			}
		})
	}
}
