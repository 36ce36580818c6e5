package server

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
)

// TestAttackAuditStreamFlood: one credential cannot hold audit streams
// without limit. A stream has no end of its own: it holds a request for
// as long as its client stays, authenticating and reading the store at
// every poll, so a key opening hundreds multiplied both for ever. Past
// maxStreamsPerKey the key's further streams are refused (403); other
// keys, and the key once a stream ends, open streams as before.
func TestAttackAuditStreamFlood(t *testing.T) {
	const flood = 20
	// open opens a stream with cred and reports its status; the stream
	// is closed by the returned function, or when the test ends.
	open := func(e *env, cred string) (int, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		e.t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/audit/stream", nil)
		req.Header.Set("Authorization", "Bearer "+cred)
		res, err := e.ts.Client().Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		if res.StatusCode != 200 {
			res.Body.Close()
			cancel()
		}
		return res.StatusCode, func() { cancel(); res.Body.Close() }
	}
	flooded := func(e *env, cred string) (held int, closers []func()) {
		for range flood {
			st, closer := open(e, cred)
			switch st {
			case 200:
				held++
				closers = append(closers, closer)
			case 403:
			default:
				e.t.Fatalf("stream past the cap: status %d", st)
			}
		}
		return held, closers
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"streams past the cap are refused", func(t *testing.T, e *env) {
			if held, _ := flooded(e, e.key("acme/carol")); held > maxStreamsPerKey {
				t.Errorf("one key holds %d audit streams, cap %d", held, maxStreamsPerKey)
			}
		}},
		{"another key still streams", func(t *testing.T, e *env) {
			flooded(e, e.key("acme/carol"))
			if st, _ := open(e, e.key("acme/alice")); st != 200 {
				t.Errorf("another key's stream: %d", st)
			}
		}},
		{"a slot comes back when a stream ends", func(t *testing.T, e *env) {
			carol := e.key("acme/carol")
			_, closers := flooded(e, carol)
			closers[0]()
			synctest.Wait()
			if st, _ := open(e, carol); st != 200 {
				t.Errorf("stream after one ended: %d", st)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { tc.run(t, newBubbleEnv(t)) })
		})
	}
}
