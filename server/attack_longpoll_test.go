package server

import (
	"testing"
	"testing/synctest"
)

// TestAttackLongPollFlood: one credential cannot hold the server with
// long polls without limit. Each GET /v1/approvals/{id}?wait= holds a
// request and reads the store four times a second for up to a minute; an
// agent opening hundreds at once on its own approval multiplied both.
// Past maxWaitsPerKey the key's further polls are answered at once with
// the approval as it stands (as when a wait ends), which clients already
// pace; other keys, and the key once its polls end, wait as before.
func TestAttackLongPollFlood(t *testing.T) {
	const flood = 40
	// poll starts n long polls of apr by cred and returns their answers.
	poll := func(e *env, cred, apr string, n int) chan resp {
		out := make(chan resp, n)
		for range n {
			go func() { out <- e.do("GET", "/v1/approvals/"+apr+"?wait=30s", cred, nil) }()
		}
		return out
	}
	answered := func(c chan resp) (n int, bad *resp) {
		for {
			select {
			case r := <-c:
				if r.status != 200 && bad == nil {
					bad = &r
				}
				n++
			default:
				return n, bad
			}
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"polls past the cap are answered at once", func(t *testing.T, e *env) {
			bot := e.key("acme/bot")
			apr := e.pendingApproval(bot, 90)
			got := poll(e, bot, apr, flood)
			synctest.Wait()
			n, bad := answered(got)
			if bad != nil {
				t.Fatalf("a poll past the cap: %d %s", bad.status, bad.body)
			}
			if held := flood - n; held > maxWaitsPerKey {
				t.Errorf("one key holds %d long polls, cap %d", held, maxWaitsPerKey)
			}
			e.must(200, "POST", "/v1/approvals/"+apr+"/deny", e.key("acme/carol"), nil)
			synctest.Wait()
		}},
		{"another key still waits", func(t *testing.T, e *env) {
			bot, bot2 := e.key("acme/bot"), e.key("acme/bot2")
			apr := e.pendingApproval(bot, 90)
			apr2 := e.pendingApproval(bot2, 91)
			poll(e, bot, apr, flood)
			synctest.Wait()
			got := poll(e, bot2, apr2, 1)
			synctest.Wait()
			if n, _ := answered(got); n != 0 {
				t.Errorf("another key's long poll answered at once")
			}
			e.must(200, "POST", "/v1/approvals/"+apr+"/deny", e.key("acme/carol"), nil)
			e.must(200, "POST", "/v1/approvals/"+apr2+"/deny", e.key("acme/carol"), nil)
			synctest.Wait()
		}},
		{"slots come back when polls end", func(t *testing.T, e *env) {
			bot, carol := e.key("acme/bot"), e.key("acme/carol")
			apr := e.pendingApproval(bot, 90)
			poll(e, bot, apr, flood)
			synctest.Wait()
			e.must(200, "POST", "/v1/approvals/"+apr+"/deny", carol, nil)
			synctest.Wait()
			apr2 := e.pendingApproval(bot, 92)
			got := poll(e, bot, apr2, 1)
			synctest.Wait()
			if n, _ := answered(got); n != 0 {
				t.Errorf("long poll answered at once after the earlier polls ended")
			}
			e.must(200, "POST", "/v1/approvals/"+apr2+"/deny", carol, nil)
			synctest.Wait()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { tc.run(t, newBubbleEnv(t)) })
		})
	}
}
