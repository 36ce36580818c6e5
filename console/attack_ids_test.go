package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// The markup a browser reads: forms, their hidden inputs, and every
// attribute that a browser turns into a URL to request.
var (
	formRE    = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	actionRE  = regexp.MustCompile(`\baction="([^"]*)"`)
	methodRE  = regexp.MustCompile(`\bmethod="([^"]*)"`)
	hiddenRE  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	urlAttrRE = regexp.MustCompile(`(?i)\s(?:href|src|action|formaction)\s*=\s*"([^"]*)"|\scontent="\d+;\s*url=([^"]*)"`)
	// fixedURL is every URL a console page may hold: fixed paths, none
	// of them built from data.
	fixedURL = regexp.MustCompile(`^(?:#main|/ui/(?:assets/console\.(?:css|js)|approvals(?:/approve|/deny)?|agents(?:/suspend|/resume)?|activity|revoke|login|logout))$`)
)

// card returns the part of the Agents page that is the card of agent.
func card(t *testing.T, body, agent string) string {
	t.Helper()
	for _, a := range strings.Split(body, "<article")[1:] {
		if strings.Contains(a, `<span class="agent">`+html.EscapeString(agent)+`</span></h2>`) ||
			strings.Contains(a, `<span class="agent">`+html.EscapeString(agent)+`</span>`+"\n") {
			return a
		}
	}
	t.Fatalf("no card for %q: %s", agent, body)
	return ""
}

// submit does what a browser does when the button of class button in
// markup is pressed on the page at path: it sends the form's fields,
// with fill, to the form's action resolved against path.
func (b *browser) submit(path, markup, button string, fill url.Values) page {
	b.e.t.Helper()
	for _, f := range formRE.FindAllStringSubmatch(markup, -1) {
		if !strings.Contains(f[2], `class="`+button+`"`) {
			continue
		}
		m := actionRE.FindStringSubmatch(f[1])
		if m == nil {
			b.e.t.Fatalf("form without an action: %s", f[0])
		}
		base, _ := url.Parse(b.e.ts.URL + path)
		act, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			b.e.t.Fatalf("form action %q: %v", m[1], err)
		}
		target := base.ResolveReference(act)
		form := url.Values{}
		for _, in := range hiddenRE.FindAllStringSubmatch(f[2], -1) {
			form.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		for k, v := range fill {
			form[k] = v
		}
		if mm := methodRE.FindStringSubmatch(f[1]); mm != nil && strings.EqualFold(mm[1], "get") {
			target.RawQuery = form.Encode()
			return b.do("GET", target.RequestURI(), nil)
		}
		return b.do("POST", target.RequestURI(), form)
	}
	b.e.t.Fatalf("no form with a %q button: %s", button, markup)
	return page{}
}

// wantFixedURLs fails unless every URL in body is a fixed console path.
func wantFixedURLs(t *testing.T, where, body string) {
	t.Helper()
	n := 0
	for _, m := range urlAttrRE.FindAllStringSubmatch(body, -1) {
		u := html.UnescapeString(m[1] + m[2])
		n++
		if !fixedURL.MatchString(u) {
			t.Errorf("%s: URL %q is not a fixed path of the console", where, u)
		}
	}
	if n == 0 {
		t.Errorf("%s: no URL found to check: %s", where, body)
	}
}

// An agent id is chosen text: "bot/../bot2" is a valid one, and a check
// naming it (here one an admin vouches for) makes it appear on the Agents
// page. Built into a form action, the browser resolved the dot segments,
// and the card's Suspend suspended bot2; an id with a slash got a form no
// route matched, so it could not be suspended at all. Ids go in form
// fields, never in a URL.
func TestAttackConsoleIDsNeverInURLs(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	const hostile = "bot/../bot2"
	body := `{"tool_name":"docs.read","agent_id":"` + hostile + `"}`
	req, _ := http.NewRequest("POST", e.ts.URL+"/v1/actions/check", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.keys["alice"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	const slashed = "team/bot"
	teamKey, _, err := e.client().CreateKey(ctx, agenttrust.KeySpec{AgentID: slashed, Roles: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(key string) bool { // an error is a deny
		d, _ := e.client().Check(ctx, agenttrust.Request{Credential: key, Tool: "docs.read"})
		return d.Allowed()
	}
	if !allowed(teamKey) {
		t.Fatal("team/bot denied before any suspension")
	}
	aprID := e.pending("bot", "payments.charge", "acct/1", nil)
	if err := e.client().SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	suspended := func(agent string) bool {
		blocks, err := e.st.Blocks(ctx, "acme")
		if err != nil {
			panic(err) // the memory store does not fail
		}
		for _, bl := range blocks {
			if bl.Kind == store.Suspended && bl.ID == agent {
				return true
			}
		}
		return false
	}

	b := e.browser()
	b.signIn("alice")
	t.Run("the hostile card suspends exactly its id", func(t *testing.T) {
		p := b.do("GET", "/ui/agents", nil)
		b.submit("/ui/agents", card(t, p.body, hostile), "suspend", url.Values{"reason": {"suspend the card I see"}})
		if !allowed(e.keys["bot2"]) {
			t.Errorf("suspending the card of %q suspended bot2", hostile)
		}
		if !allowed(e.keys["bot"]) {
			t.Errorf("suspending the card of %q suspended bot", hostile)
		}
		if !suspended(hostile) {
			t.Errorf("the card of %q did not suspend it", hostile)
		}
	})
	t.Run("an id with a slash is suspended and resumed", func(t *testing.T) {
		p := b.do("GET", "/ui/agents", nil)
		b.submit("/ui/agents", card(t, p.body, slashed), "suspend", url.Values{"reason": {"runaway"}})
		if allowed(teamKey) || !suspended(slashed) {
			t.Fatalf("Suspend on the card of %q did not suspend it", slashed)
		}
		p = b.do("GET", "/ui/agents", nil)
		b.submit("/ui/agents", card(t, p.body, slashed), "resume", nil)
		if !allowed(teamKey) || suspended(slashed) {
			t.Fatalf("Resume on the card of %q did not resume it", slashed)
		}
	})
	t.Run("no page holds an id in a URL", func(t *testing.T) {
		pages := map[string]string{}
		for _, path := range []string{"/ui/approvals", "/ui/agents", "/ui/activity", "/ui/activity?agent_id=" + url.QueryEscape(hostile),
			"/ui/revoke?id=" + e.ids["bot"]} {
			p := b.do("GET", path, nil)
			if p.status != http.StatusOK {
				t.Fatalf("GET %s: %d", path, p.status)
			}
			pages[path] = p.body
		}
		pages["the sign-in page"] = e.browser().do("GET", "/ui/login", nil).body
		pages["a cross-site link"] = e.browser().do("GET", "/ui/revoke?id="+e.ids["bot"], nil, "Sec-Fetch-Site", "cross-site").body
		req, _ := http.NewRequest("GET", e.ts.URL+"/ui/events/approvals", nil)
		resp, err := b.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		pages["the live approvals"] = readUntil(t, resp.Body, "</article>")
		resp.Body.Close()
		for where, body := range pages {
			wantFixedURLs(t, where, body)
		}
		for _, id := range []string{hostile, slashed, aprID, e.ids["bot"]} {
			if !strings.Contains(pages["/ui/agents"]+pages["/ui/approvals"], `value="`+html.EscapeString(id)+`"`) {
				t.Errorf("no form field carries %q", id)
			}
		}
	})
	t.Run("approve and revoke by form field", func(t *testing.T) {
		p := b.do("GET", "/ui/approvals", nil)
		b.submit("/ui/approvals", p.body, "approve", nil)
		if a, err := e.client().Approval(ctx, aprID); err != nil || a.Status != agenttrust.ApprovalApproved {
			t.Fatalf("the approval after Approve: %+v %v", a, err)
		}
		p = b.do("GET", "/ui/agents", nil)
		i := strings.Index(p.body, `id="node-`+e.ids["bot2"]+`"`)
		if i < 0 {
			t.Fatalf("no node for bot2's key")
		}
		p = b.submit("/ui/agents", p.body[i:], "revoke", nil)
		b.submit("/ui/revoke", p.body, "deny", nil)
		if allowed(e.keys["bot2"]) {
			t.Fatal("bot2's key still works after Revoke")
		}
		if !allowed(e.keys["bot"]) {
			t.Fatal("revoking bot2's key cut off bot")
		}
	})
}
