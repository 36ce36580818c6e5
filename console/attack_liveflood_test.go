package console_test

import (
	"context"
	"net/http"
	"testing"
)

// TestAttackConsoleLiveStreamFlood: one key cannot hold the console's
// live streams without limit. A live page's stream (/ui/events/...) has
// no end of its own and, every poll, authenticates the key and reads the
// API (the activity page up to 5,000 audit records); the API caps the
// audit streams of a key at 8, but through the console one signed-in
// approver held as many as it opened, and multiplied the load on the
// store every tenant shares for as long as it liked. Past the cap the
// key's further streams are refused; another key, and the key once a
// stream ends, stream as before.
func TestAttackConsoleLiveStreamFlood(t *testing.T) {
	const flood, limit = 20, 8
	open := func(t *testing.T, b *browser, page string) (int, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", b.e.ts.URL+"/ui/events/"+page, nil)
		res, err := b.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			res.Body.Close()
			cancel()
		}
		return res.StatusCode, func() { cancel(); res.Body.Close() }
	}
	flooded := func(t *testing.T, b *browser) (held int, closers []func()) {
		for i := range flood {
			st, closer := open(t, b, []string{"approvals", "activity"}[i%2])
			switch st {
			case 200:
				held++
				closers = append(closers, closer)
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("live stream past the cap: status %d", st)
			}
		}
		return held, closers
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"streams past the cap are refused", func(t *testing.T, e *env) {
			b := e.browser()
			b.signIn("carol")
			if held, _ := flooded(t, b); held > limit {
				t.Errorf("one key holds %d live streams, cap %d", held, limit)
			}
		}},
		{"the cap is the key's, across its sessions", func(t *testing.T, e *env) {
			held := 0
			for range 3 {
				b := e.browser()
				b.signIn("carol")
				n, _ := flooded(t, b)
				held += n
			}
			if held > limit {
				t.Errorf("one key holds %d live streams over three sessions, cap %d", held, limit)
			}
		}},
		{"another key still streams", func(t *testing.T, e *env) {
			b := e.browser()
			b.signIn("carol")
			flooded(t, b)
			d := e.browser()
			d.signIn("dave")
			if st, _ := open(t, d, "approvals"); st != 200 {
				t.Errorf("another key's stream: %d", st)
			}
		}},
		{"a slot comes back when a stream ends", func(t *testing.T, e *env) {
			b := e.browser()
			b.signIn("carol")
			_, closers := flooded(t, b)
			for _, c := range closers {
				c()
			}
			for range 100 {
				if st, closer := open(t, b, "approvals"); st == 200 {
					closer()
					return
				}
			}
			t.Errorf("no stream after every one ended")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newEnv(t, false)) })
	}
}
