package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// A key revoked or expired ends its sessions at the next request, on
// every route: also on the pages that render from the session alone (an
// approver's Agents and Revoke pages, the sign-in page of a signed-in
// person) and on a live stream, which showed the person's identity and the
// session's CSRF token and, polled, kept the session alive to its 12 hours.
func TestAttackConsoleRejectedKeyEndsSession(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	c := e.client()
	allowed := func(key string) bool { // an error is a deny
		d, _ := c.Check(ctx, agenttrust.Request{Credential: key, Tool: "docs.read"})
		return d.Allowed()
	}
	// Each route, with what it needs and a check that it did nothing.
	type route struct {
		method, path string
		form         func() (url.Values, func() string) // the form, and what it must not have done
	}
	none := func() (url.Values, func() string) { return nil, func() string { return "" } }
	decide := func() (url.Values, func() string) {
		id := e.pending("bot", "payments.charge", "acct/1", nil)
		return url.Values{"id": {id}, "note": {"n"}}, func() string {
			if a, err := c.Approval(ctx, id); err != nil || a.Status != agenttrust.ApprovalPending {
				return "decided the approval"
			}
			return ""
		}
	}
	routes := []route{
		{"GET", "/ui/login", none},
		{"GET", "/ui/approvals", none},
		{"GET", "/ui/agents", none},
		{"GET", "/ui/revoke?id=" + e.ids["bot"], none},
		{"GET", "/ui/activity", none},
		{"GET", "/ui/events/approvals", none},
		{"GET", "/ui/events/activity", none},
		{"POST", "/ui/logout", none},
		{"POST", "/ui/approvals/approve", decide},
		{"POST", "/ui/approvals/deny", decide},
		{"POST", "/ui/agents/suspend", func() (url.Values, func() string) {
			return url.Values{"id": {"bot"}, "reason": {"r"}}, func() string {
				if !allowed(e.keys["bot"]) {
					return "suspended bot"
				}
				return ""
			}
		}},
		{"POST", "/ui/agents/resume", func() (url.Values, func() string) {
			if err := c.Suspend(ctx, "bot2", "held"); err != nil {
				t.Fatal(err)
			}
			return url.Values{"id": {"bot2"}}, func() string {
				defer c.Resume(ctx, "bot2")
				if allowed(e.keys["bot2"]) {
					return "resumed bot2"
				}
				return ""
			}
		}},
		{"POST", "/ui/revoke", func() (url.Values, func() string) {
			return url.Values{"id": {e.ids["bot"]}}, func() string {
				if !allowed(e.keys["bot"]) {
					return "revoked bot's key"
				}
				return ""
			}
		}},
	}
	for _, why := range []string{"revoked", "expired"} {
		for _, person := range []struct{ agent, role string }{{"alice", "admin"}, {"carol", "approver"}} {
			for _, rt := range routes {
				name, _, _ := strings.Cut(rt.path, "?")
				t.Run(why+"/"+person.role+"/"+rt.method+" "+name, func(t *testing.T) {
					spec := agenttrust.KeySpec{AgentID: person.agent, Roles: []string{person.role}}
					if why == "expired" {
						spec.ExpiresAt = e.clock.Now().Add(time.Minute)
					}
					secret, key, err := c.CreateKey(ctx, spec)
					if err != nil {
						t.Fatal(err)
					}
					b := e.browser()
					if p := b.do("POST", "/ui/login", url.Values{"key": {secret}}); p.status != http.StatusSeeOther {
						t.Fatalf("sign-in: %d", p.status)
					}
					tok := b.csrf()
					form, undone := rt.form()
					if why == "revoked" {
						if err := c.Revoke(ctx, key.ID); err != nil {
							t.Fatal(err)
						}
					} else {
						e.clock.Advance(2 * time.Minute) // well within the idle timeout
					}
					if rt.method == "POST" {
						if form == nil {
							form = url.Values{}
						}
						form.Set("csrf", tok)
					}
					p := b.do(rt.method, rt.path, form)
					switch {
					case strings.HasPrefix(rt.path, "/ui/events/"):
						if p.status != http.StatusUnauthorized {
							t.Errorf("status %d, want 401", p.status)
						}
					case rt.path == "/ui/login":
						if p.status != http.StatusOK || !strings.Contains(p.body, `id="login"`) {
							t.Errorf("status %d %q, want the sign-in form", p.status, p.header.Get("Location"))
						}
					default:
						if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login" {
							t.Errorf("status %d %q, want a redirect to /ui/login", p.status, p.header.Get("Location"))
						}
					}
					if strings.Contains(p.body, person.agent) || strings.Contains(p.body, tok) || csrfRE.MatchString(p.body) {
						t.Errorf("the page shows the person or a CSRF token: %s", p.body)
					}
					cleared := false
					for _, sc := range p.header.Values("Set-Cookie") {
						if ck, err := http.ParseSetCookie(sc); err == nil && ck.Name == "agenttrust_console" && ck.MaxAge < 0 {
							cleared = true
						}
					}
					if !cleared {
						t.Errorf("the cookie is not cleared: %q", p.header.Values("Set-Cookie"))
					}
					if did := undone(); did != "" {
						t.Errorf("the rejected key's session %s", did)
					}
				})
			}
		}
	}
}
