package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestAttackRequestIDCredential: a caller's X-Request-Id is echoed,
// written to the access log and to every log line the request causes,
// and kept in the check's audit record, when it is 1-128 bytes of
// [A-Za-z0-9-_.:/+=@]. An API key is 40 such bytes: a client that sent
// its key as X-Request-Id (or a proxy that copied Authorization's value
// there) had its key echoed in the response header, logged and
// recorded. An id holding a credential must be replaced by one the
// server makes, as any other refused id is.
func TestAttackRequestIDCredential(t *testing.T) {
	var logs bytes.Buffer
	lg := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, WithLogger(lg), WithAccessLog(lg))
	admin := e.key("acme/alice")
	bot := e.key("acme/bot")
	for name, id := range map[string]string{
		"another key":              bot,
		"the caller's own key":     admin,
		"a key inside a longer id": "trace:" + bot + ":1",
	} {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			r := e.do("POST", "/v1/actions/check", admin, `{"agent_id":"bot","tool_name":"docs.read"}`, RequestIDHeader, id)
			if r.status != 200 {
				t.Fatalf("check: %d %s", r.status, r.body)
			}
			secret := id[len(id)-14:]
			if got := r.header.Get(RequestIDHeader); strings.Contains(got, secret) {
				t.Errorf("X-Request-Id echoes the credential: %q", got)
			}
			e.sync()
			recs := e.must(200, "GET", "/v1/audit?decision_id="+r.json(t)["decision_id"].(string), admin, nil)
			if strings.Contains(string(recs.body), secret) {
				t.Errorf("the audit record holds the credential: %s", recs.body)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds the credential:\n%s", logs.String())
			}
		})
	}
}
