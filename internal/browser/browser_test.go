package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/console"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const policy = `{"rules":[
 {"id":"read","effect":"allow","tools":["docs.read"]},
 {"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human"},
 {"id":"hostile","effect":"needs_approval","tools":["javascript:*"],"reason":"odd tool"}
]}`

// env is a server with the console over a memory store, tenant "acme":
// alice (admin), carol (approver), bot, bot2 and evil (agents).
type env struct {
	t    *testing.T
	srv  *server.Server
	ts   *httptest.Server
	keys map[string]string
	ids  map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := memory.New()
	e := &env{t: t, keys: map[string]string{}, ids: map[string]string{}}
	var con *console.Console
	srv, err := server.New(st, server.WithNodeName("n1"), server.WithSystemTenant("ops"),
		server.WithClientOptions(
			agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{{ID: "mk1", Secret: bytes.Repeat([]byte("m"), 32)}}}),
			agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{{ID: "sk1", Secret: bytes.Repeat([]byte("s"), 32)}}})),
		server.WithConsole(func(api http.Handler) (http.Handler, error) {
			c, err := console.New(console.Config{API: api, Store: st, Poll: 100 * time.Millisecond})
			con = c
			return c, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv)
	t.Cleanup(func() {
		con.Close()
		e.ts.Close()
		srv.Close()
	})
	ctx := context.Background()
	c := e.client()
	for _, k := range []struct {
		agent string
		roles []string
	}{{"alice", []string{"admin"}}, {"carol", []string{"approver"}}, {"bot", []string{"agent"}}, {"bot2", []string{"agent"}}, {"evil", []string{"agent"}}} {
		secret, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: k.agent, Roles: k.roles})
		if err != nil {
			t.Fatal(err)
		}
		e.keys[k.agent], e.ids[k.agent] = secret, key.ID
	}
	if _, err := c.SavePolicy(ctx, []byte(policy), "json", 0); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) client() *agenttrust.Client {
	c, err := e.srv.Client(context.Background(), "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

type checkAnswer struct {
	Allowed    bool   `json:"allowed"`
	Effect     string `json:"effect"`
	ApprovalID string `json:"approval_id"`
}

// check is an agent's check over the API, as an agent makes it.
func (e *env) check(cred, tool, resource string, attrs map[string]any) (checkAnswer, int) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"tool_name": tool, "resource": resource, "attributes": attrs})
	var out checkAnswer
	status := e.api("POST", "/v1/actions/check", cred, body, &out)
	return out, status
}

func (e *env) api(method, path, cred string, body []byte, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.ts.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+cred)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

// tab is a headless Chromium tab; dialogs counts the JavaScript dialogs
// (alert, confirm, prompt) that opened in it.
type tab struct {
	ctx     context.Context
	dialogs atomic.Int32
	name    string
}

func newTab(t *testing.T) *tab {
	t.Helper()
	exe := os.Getenv("AGENTTRUST_TEST_CHROMIUM")
	if exe == "" {
		t.Skip("set AGENTTRUST_TEST_CHROMIUM to a Chromium binary (e.g. /usr/bin/chromium) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1000, 900),
		chromedp.Flag("disable-dev-shm-usage", true))
	// The whole browser lives at most browserLife: a test that hangs fails.
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	tctx, cancelT := context.WithTimeout(actx, browserLife)
	ctx, cancelC := chromedp.NewContext(tctx)
	t.Cleanup(func() { cancelC(); cancelT(); cancelA() })
	tb := &tab{ctx: ctx, name: strings.ReplaceAll(t.Name(), "/", "_")}
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("start Chromium %s: %v", exe, err)
	}
	// The tab is the window a person has in front of them: focused, as a
	// headless one is not until clicked (Approve counts only in a page
	// with the focus).
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("focus emulation: %v", err)
	}
	// Count every dialog, and dismiss it so the page goes on.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			tb.dialogs.Add(1)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return tb
}

// browserLife bounds a test's browser; stepTimeout one run of actions;
// readTime is how long a person reads a page before acting on it (a click
// that changes state counts only once the page has been in front a
// moment).
const (
	browserLife = 90 * time.Second
	stepTimeout = 20 * time.Second
	readTime    = 700 * time.Millisecond
)

func (tb *tab) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.screenshot(t, "failed")
		t.Fatalf("%s: %v", what, err)
	}
}

// screenshot saves the page as an artifact.
func (tb *tab) screenshot(t *testing.T, label string) {
	t.Helper()
	dir := os.Getenv("AGENTTRUST_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "agenttrust-browser-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("artifacts: %v", err)
		return
	}
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	p := filepath.Join(dir, tb.name+"-"+label+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", p)
}

func (tb *tab) signIn(t *testing.T, e *env, who string) {
	t.Helper()
	tb.run(t, "sign in as "+who,
		chromedp.Navigate(e.ts.URL+"/ui/login"),
		chromedp.WaitVisible(chromedp.CSS(`#key`)),
		chromedp.SendKeys(chromedp.CSS(`#key`), e.keys[who]),
		chromedp.Click(chromedp.CSS(`#login button`)),
		chromedp.WaitVisible(chromedp.CSS(`#live`)),
	)
}

func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.screenshot(t, "failed")
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func TestBrowserSignInAndApproveLive(t *testing.T) {
	e := newEnv(t)
	tb := newTab(t)
	tb.signIn(t, e, "carol")
	if s := tb.text(t, "header .who span"); !strings.Contains(s, "carol") {
		t.Fatalf("signed in as %q", s)
	}
	tb.screenshot(t, "signed-in")

	// The agent asks, then waits for the decision as an agent does.
	first, status := e.check(e.keys["bot"], "payments.charge", "acct/42", map[string]any{"amount": 990, "recipient": "ACME Ltd"})
	if status != 200 || first.Effect != "needs_approval" || first.ApprovalID == "" {
		t.Fatalf("check: %d %+v", status, first)
	}
	result := make(chan checkAnswer, 1)
	go func() {
		var a struct{ Status string }
		e.api("GET", "/v1/approvals/"+first.ApprovalID+"?wait=30s", e.keys["bot"], nil, &a)
		if a.Status != "approved" {
			result <- checkAnswer{Effect: "approval " + a.Status}
			return
		}
		got, _ := e.check(e.keys["bot"], "payments.charge", "acct/42", map[string]any{"amount": 990, "recipient": "ACME Ltd"})
		result <- got
	}()

	card := `article[id="` + first.ApprovalID + `"]`
	tb.run(t, "the approval appears live",
		chromedp.WaitVisible(chromedp.CSS(card)))
	if s := tb.text(t, card); !strings.Contains(s, "acct/42") || !strings.Contains(s, "990") || !strings.Contains(s, "payments need a human") {
		t.Fatalf("card: %q", s)
	}
	if s := tb.text(t, "#live-status"); !strings.Contains(s, "1 pending") {
		t.Errorf("the live status does not announce the approval: %q", s)
	}
	tb.screenshot(t, "pending")
	tb.run(t, "approve",
		chromedp.SendKeys(chromedp.CSS(`#note-`+first.ApprovalID), "checked the invoice"),
		chromedp.Sleep(readTime), // a person reads the card first
		chromedp.Click(chromedp.CSS(card+` button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#flash`)))
	if s := tb.text(t, "#flash"); !strings.Contains(s, "Approved "+first.ApprovalID) {
		t.Fatalf("flash: %q", s)
	}
	select {
	case got := <-result:
		if !got.Allowed {
			t.Fatalf("the waiting agent's call after approval: %+v", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting agent never heard")
	}
	tb.screenshot(t, "approved")
	if n := tb.dialogs.Load(); n != 0 {
		t.Fatalf("%d dialogs", n)
	}
}

func TestBrowserSuspend(t *testing.T) {
	e := newEnv(t)
	if a, _ := e.check(e.keys["bot2"], "docs.read", "", nil); !a.Allowed {
		t.Fatalf("bot2 before suspension: %+v", a)
	}
	tb := newTab(t)
	tb.signIn(t, e, "alice")
	tb.run(t, "suspend bot2",
		chromedp.Navigate(e.ts.URL+"/ui/agents"),
		chromedp.WaitVisible(chromedp.CSS(`#agent-bot2`)),
		chromedp.SendKeys(chromedp.CSS(`#reason-bot2`), "runaway loop"),
		chromedp.Sleep(readTime),
		chromedp.Click(chromedp.CSS(`#agent-bot2 button.suspend`)),
		chromedp.WaitVisible(chromedp.CSS(`#agent-bot2 button.resume`)))
	if s := tb.text(t, "#agent-bot2"); !strings.Contains(s, "suspended") || !strings.Contains(s, "runaway loop") {
		t.Fatalf("agent card: %q", s)
	}
	tb.screenshot(t, "suspended")
	if a, status := e.check(e.keys["bot2"], "docs.read", "", nil); a.Allowed || status == 200 && a.Effect != "deny" {
		t.Fatalf("bot2's next check after suspension: %d %+v", status, a)
	}
	if a, _ := e.check(e.keys["bot"], "docs.read", "", nil); !a.Allowed {
		t.Fatalf("bot is not suspended: %+v", a)
	}
}

func TestBrowserRevokeSubtree(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	tok, err := c.Exchange(ctx, e.keys["bot"])
	if err != nil {
		t.Fatal(err)
	}
	tokA, hopA, err := c.Delegate(ctx, tok, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokB, hopB, err := c.Delegate(ctx, tok, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokA1, hopA1, err := c.Delegate(ctx, tokA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tb := newTab(t)
	tb.signIn(t, e, "alice")
	tb.run(t, "open the tree",
		chromedp.Navigate(e.ts.URL+"/ui/agents"),
		chromedp.WaitVisible(chromedp.CSS(`#node-`+hopA1.ID)))
	tb.screenshot(t, "tree")
	tb.run(t, "revoke A",
		chromedp.Click(chromedp.CSS(`#node-`+hopA.ID+` > form.revoke > button.revoke`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-revoke`)))
	if s := tb.text(t, "#cuts"); !strings.Contains(s, "cuts off 1 live descendant") {
		t.Fatalf("confirm page: %q", s)
	}
	tb.screenshot(t, "confirm")
	tb.run(t, "confirm",
		chromedp.Sleep(readTime),
		chromedp.Click(chromedp.CSS(`#confirm-revoke`)),
		chromedp.WaitVisible(chromedp.CSS(`#flash`)))
	status := func(id string) string {
		r, err := chromedp.Run(tb.ctx, chromedp.AttributeValue(chromedp.CSS(`#node-`+id), "data-status"))
		if err != nil {
			t.Fatalf("status of %s: %v", id, err)
		}
		return r.Value
	}
	for id, want := range map[string]string{hopA.ID: "revoked", hopA1.ID: "revoked", hopB.ID: "live"} {
		if got := status(id); got != want {
			t.Errorf("node %s shows %q, want %q", id, got, want)
		}
	}
	tb.screenshot(t, "revoked")
	for cred, want := range map[string]bool{tokA: false, tokA1: false, tokB: true} {
		if a, _ := e.check(cred, "docs.read", "", nil); a.Allowed != want {
			t.Errorf("check with a token of the tree: allowed %v, want %v", a.Allowed, want)
		}
	}
}

// The payloads set window.__xss, open a dialog or add an element if
// they ever run or parse as markup.
var (
	hostileResource = `"><img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2;alert(2)</script>`
	hostileAttrs    = map[string]any{
		"<script>window.__xss=3</script>": `javascript:alert(3)`,
		"memo":                            `"><img id=injected src=x onerror=alert(4)>`,
		"link":                            "javascript:alert(5)//",
		`"><svg onload=alert(6)>`:         `</pre><script>alert(7)</script>`,
	}
)

func TestBrowserXSSInert(t *testing.T) {
	e := newEnv(t)
	tb := newTab(t)
	tb.signIn(t, e, "alice")
	// The hostile approval arrives over the live stream (innerHTML).
	a, status := e.check(e.keys["evil"], "javascript:alert", hostileResource, hostileAttrs)
	if status != 200 || a.Effect != "needs_approval" {
		t.Fatalf("hostile check: %d %+v", status, a)
	}
	if r, _ := e.check(e.keys["evil"], "docs.read", hostileResource, hostileAttrs); !r.Allowed {
		t.Fatalf("hostile allowed check: %+v", r)
	}
	tb.run(t, "the hostile approval appears live",
		chromedp.WaitVisible(chromedp.CSS(`article[id="`+a.ApprovalID+`"]`)))
	inert := func(where string) {
		t.Helper()
		type result struct {
			XSS      bool `json:"xss"`
			Imgs     int  `json:"imgs"`
			Scripts  int  `json:"scripts"`
			SVGs     int  `json:"svgs"`
			JSLinks  int  `json:"jslinks"`
			Injected bool `json:"injected"`
		}
		res, err := chromedp.Run(tb.ctx, chromedp.Evaluate[result](`({
			xss: window.__xss !== undefined,
			imgs: document.querySelectorAll('img').length,
			scripts: document.querySelectorAll('script').length,
			svgs: document.querySelectorAll('svg').length,
			jslinks: Array.from(document.querySelectorAll('[href],[src],[action],[formaction]')).filter(el =>
				['href','src','action','formaction'].some(a => (el.getAttribute(a)||'').trim().toLowerCase().startsWith('javascript:'))).length,
			injected: document.getElementById('injected') !== null,
		})`))
		if err != nil {
			t.Fatalf("inspect %s: %v", where, err)
		}
		if res.XSS || res.Imgs != 0 || res.Scripts != 1 || res.SVGs != 0 || res.JSLinks != 0 || res.Injected {
			t.Errorf("%s: payload took effect: %+v", where, res)
		}
		if n := tb.dialogs.Load(); n != 0 {
			t.Errorf("%s: %d dialogs opened", where, n)
		}
	}
	if s := tb.text(t, `article[id="`+a.ApprovalID+`"]`); !strings.Contains(s, `<img src=x`) || !strings.Contains(s, "<script>window.__xss=3</script>") {
		t.Errorf("the payloads are not shown as text: %q", s)
	}
	inert("approvals, live")
	tb.screenshot(t, "approvals")
	tb.run(t, "approvals, reloaded", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`article[id="`+a.ApprovalID+`"]`)))
	inert("approvals, rendered")
	tb.run(t, "activity", chromedp.Navigate(e.ts.URL+"/ui/activity?agent_id=evil"),
		chromedp.WaitVisible(chromedp.CSS(`.decision summary`)),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('details').forEach(d => d.open = true), 1`))
			return err
		}),
		chromedp.Sleep(300*time.Millisecond))
	inert("activity")
	tb.screenshot(t, "activity")
	// A new decision arrives over the live stream: the hostile rows are
	// rendered again, and the records open stay open.
	opened, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.querySelectorAll('details[open]').length`))
	if err != nil || opened < 2 {
		t.Fatalf("open records: %d %v", opened, err)
	}
	e.check(e.keys["evil"], "docs.read", "after", nil)
	tb.run(t, "the new decision appears", chromedp.WaitVisible(chromedp.CSS(`.decision:nth-child(`+fmt.Sprint(opened+1)+`)`)))
	if still, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.querySelectorAll('details[open]').length`)); still != opened {
		t.Errorf("%d records open before the update, %d after", opened, still)
	}
	inert("activity, live")
	tb.run(t, "agents", chromedp.Navigate(e.ts.URL+"/ui/agents"), chromedp.WaitVisible(chromedp.CSS(`#agent-evil`)))
	inert("agents")
	tb.screenshot(t, "agents")

}

// noOverflow fails when the page is wider than the phone's screen.
func (tb *tab) noOverflow(t *testing.T, where string, width int) {
	t.Helper()
	w, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatalf("width of %s: %v", where, err)
	}
	if w > width {
		t.Errorf("%s is %d px wide on a %d px screen", where, w, width)
	}
}

func TestBrowserPhoneAndKeyboard(t *testing.T) {
	e := newEnv(t)
	a, _ := e.check(e.keys["bot"], "payments.charge", "accounts/"+strings.Repeat("very-long-segment-", 8)+"42", map[string]any{"amount": 990, "recipient": strings.Repeat("X", 120)})
	if a.ApprovalID == "" {
		t.Fatalf("check: %+v", a)
	}
	tb := newTab(t)
	const width = 360
	// Keyboard only: type the key, Enter; Tab from the note to Approve, Enter.
	tb.run(t, "sign in on a phone, by keyboard",
		chromedp.EmulateViewport(width, 740, chromedp.EmulateMobile),
		chromedp.Navigate(e.ts.URL+"/ui/login"),
		chromedp.WaitVisible(chromedp.CSS(`#key`)),
		chromedp.Focus(chromedp.CSS(`#key`)),
		chromedp.KeyEvent(e.keys["carol"]+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`article[id="`+a.ApprovalID+`"]`)))
	tb.noOverflow(t, "approvals", width)
	tb.screenshot(t, "approvals-360px")
	tb.run(t, "approve by keyboard",
		chromedp.Focus(chromedp.CSS(`#note-`+a.ApprovalID)),
		chromedp.Sleep(readTime), // a person reads the card first
		chromedp.KeyEvent("by keyboard\t\r"),
		chromedp.WaitVisible(chromedp.CSS(`#flash`)))
	if s := tb.text(t, "#flash"); !strings.Contains(s, "Approved "+a.ApprovalID) {
		t.Fatalf("flash: %q", s)
	}
	var got struct{ Status, Note string }
	e.api("GET", "/v1/approvals/"+a.ApprovalID, e.keys["alice"], nil, &got)
	if got.Status != "approved" || got.Note != "by keyboard" {
		t.Fatalf("approval: %+v", got)
	}
	tb.run(t, "activity on a phone", chromedp.Navigate(e.ts.URL+"/ui/activity"), chromedp.WaitVisible(chromedp.CSS(`.decision summary`)))
	tb.noOverflow(t, "activity", width)
	tb.screenshot(t, "activity-360px")
}

// TestBrowserLinkFromChat follows a link to the console from another
// site, as from a chat notification: the browser withholds the
// SameSite=Strict cookie on that navigation, and the console's
// same-origin reload brings the person, still signed in, to the page.
func TestBrowserLinkFromChat(t *testing.T) {
	e := newEnv(t)
	a, _ := e.check(e.keys["bot"], "payments.charge", "acct/chat", nil)
	// "localhost" is another site than "127.0.0.1".
	chat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><a id="go" href="%s/ui/approvals#%s">open in the console</a>`, e.ts.URL, a.ApprovalID)
	}))
	defer chat.Close()
	chatURL := strings.Replace(chat.URL, "127.0.0.1", "localhost", 1)
	tb := newTab(t)
	tb.signIn(t, e, "carol")
	tb.run(t, "follow the link from the chat",
		chromedp.Navigate(chatURL),
		chromedp.Click(chromedp.CSS(`#go`)),
		chromedp.WaitVisible(chromedp.CSS(`article[id="`+a.ApprovalID+`"]`)))
	if s := tb.text(t, "header .who span"); !strings.Contains(s, "carol") {
		t.Fatalf("signed in as %q", s)
	}
	tb.screenshot(t, "from-chat")
}
