package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust/internal/wire"
)

// view is what every page template gets.
type view struct {
	Title    string
	Nav      string
	Who      *wire.PrincipalView
	Admin    bool
	CSRF     string
	Flash    string
	FlashErr bool
	Now      time.Time
	Live     string // the page's event stream, when it updates live
	Data     any
}

var funcs = template.FuncMap{
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return short(now.Sub(t)) + " ago"
	},
	"left": func(now, t time.Time) string {
		if !t.After(now) {
			return "expired"
		}
		return short(t.Sub(now)) + " left"
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"join":    strings.Join,
	"shown":   shown,
	"pct": func(n, d int) string {
		if d == 0 {
			return "-"
		}
		return strconv.Itoa(n*100/d) + "%"
	},
}

// short renders a duration to the second, at most two units.
func short(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours())/24)
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, p := range []string{"login", "approvals", "agents", "revoke", "activity", "bounce"} {
		t, err := template.New(p).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("agenttrust/console: template %s: %w", p, err)
		}
		out[p] = t
	}
	return out, nil
}

// render writes a whole page.
func (c *Console) render(w http.ResponseWriter, status int, page string, v *view) {
	if v.Now.IsZero() {
		v.Now = c.now()
	}
	var b bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		c.log.Error("agenttrust/console: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (c *Console) newView(s *session, title, nav string) *view {
	who := s.who
	v := &view{Title: title, Nav: nav, Who: &who, Admin: s.isAdmin(), CSRF: s.csrf, Now: c.now()}
	if f := s.takeFlash(); f != "" {
		v.Flash, v.FlashErr = strings.TrimPrefix(f, "!"), strings.HasPrefix(f, "!")
	}
	return v
}

// fail answers an error of the API on a page: a key no longer accepted
// ends the session; anything else is shown.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, h [32]byte, err error) {
	if errors.Is(err, errSignedOut) {
		c.signOut(w, r, h)
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
		return
	}
	status := http.StatusBadGateway
	var ae *apiError
	if errors.As(err, &ae) {
		status = ae.status
	}
	v := c.newView(s, "Error", "")
	v.Flash, v.FlashErr = err.Error(), true
	c.render(w, status, "login", v)
}

// back redirects to path after an action, with a message for the page.
func (c *Console) back(w http.ResponseWriter, r *http.Request, s *session, h [32]byte, path, ok string, err error) {
	switch {
	case errors.Is(err, errSignedOut):
		c.fail(w, r, s, h, err)
		return
	case err != nil:
		s.setFlash("!" + err.Error())
	default:
		s.setFlash(ok)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// attr is one attribute of a request, its value as JSON text (a string
// without its quotes, unless it reads as another JSON value), each as
// shown (shown).
type attr struct{ Key, Value string }

// maxAttrs is as many attributes as a request may hold; maxAttrLen bounds
// the text of one name or value shown.
const maxAttrs, maxAttrLen = 64, 2048

// attrs returns the attributes of raw as a page shows them, and whether
// that is all of them, in full: an approval binds every attribute whole,
// so a card that cannot show one does not offer to approve.
func attrs(raw json.RawMessage) ([]attr, bool) {
	if len(raw) == 0 {
		return nil, true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		v, whole := clip(string(raw))
		return []attr{{Key: "(attributes)", Value: v}}, whole
	}
	all := true
	out := make([]attr, 0, len(m))
	for k, v := range m {
		val := string(v)
		var s string
		// Only a JSON string: json.Unmarshal takes null into a string
		// as "" without an error, and null is not "".
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
			val = s
			// A string that reads as another JSON value (5, true, a
			// list) is shown quoted: a grant binds the type too.
			if json.Valid([]byte(s)) {
				val = strconv.Quote(s)
			}
		}
		key, kWhole := clip(k)
		val, vWhole := clip(val)
		all = all && kWhole && vWhole
		out = append(out, attr{Key: key, Value: val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	if len(out) > maxAttrs {
		out = append(out[:maxAttrs], attr{Key: "…", Value: fmt.Sprintf("%d more", len(m)-maxAttrs)})
		all = false
	}
	return out, all
}

// redactionMark begins each mark the library writes for a value it
// keeps out of an approval: "[redacted]" for a secret-named attribute,
// "[redacted credential]" for a credential in text.
const redactionMark = "[redacted"

// redacted reports whether raw, an approval's attributes, holds a value
// the library redacted (or text that reads as one: fail closed).
func redacted(raw json.RawMessage) bool { return bytes.Contains(raw, []byte(redactionMark)) }

// attrsShown is the attributes of raw as a page shows them.
func attrsShown(raw json.RawMessage) []attr {
	a, _ := attrs(raw)
	return a
}

// clip bounds text an agent sent, keeps it valid UTF-8 and shows it
// (shown); whole says nothing was cut.
func clip(s string) (text string, whole bool) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxAttrLen {
		return shown(s), true
	}
	cut := maxAttrLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return shown(s[:cut]) + "…", false
}

// shown is agent text as a page shows it: as is when every character is
// one a person sees (graphic but for spaces other than the ASCII one) and
// no space is at an end or next to another; otherwise quoted Go style
// (strconv.Quote), a space after a space written \x20, each other character
// (control, bidi or other format character, line or paragraph separator,
// non-ASCII space) written as an escape. html/template escapes markup,
// not these: a bidi override reversed what followed, a zero-width space
// made two names look alike.
func shown(s string) string {
	if !strings.ContainsFunc(s, invisible) && !collapses(s) {
		return s
	}
	q := strconv.Quote(s)
	if !strings.ContainsFunc(q, invisible) && !strings.Contains(q, "  ") {
		return q
	}
	// strconv.Quote leaves what unicode.IsPrint accepts raw, the
	// ignorable characters among them, and spaces, of which a page
	// shows a run as one.
	var b strings.Builder
	prev := rune(0)
	for _, r := range q {
		switch {
		case r == ' ' && prev == ' ':
			b.WriteString(`\x20`)
		case !invisible(r):
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		prev = r
	}
	return b.String()
}

// collapses reports whether a page would not show the spaces of s as
// they are: HTML drops them at the start and end of a cell and shows a
// run of them as one. Quoted, none is at an end.
func collapses(s string) bool {
	return strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") || strings.Contains(s, "  ")
}

// invisible reports whether a person does not see r: what unicode.IsPrint
// refuses (controls, format characters, separators, spaces other than
// the ASCII one), and the default-ignorable characters it accepts, which
// no font draws: the combining grapheme joiner, the Hangul fillers,
// variation selectors. Each made two texts read alike.
func invisible(r rune) bool {
	if r < utf8.RuneSelf {
		return !unicode.IsPrint(r)
	}
	return !unicode.IsPrint(r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r)
}

// approvalCard is one pending approval as the page shows it.
type approvalCard struct {
	wire.ApprovalView
	Attrs []attr
	// Whole says Attrs are all the attributes, in full: only then does
	// the card offer to approve.
	Whole bool
	// Hidden says an attribute's value was redacted when the approval
	// was stored (a secret-named attribute, a credential in text): the
	// grant binds the value no page can show, so the card is not Whole.
	Hidden bool
	Own    bool   // the signed-in person is the agent that asked
	Chain  *chain // the credential the agent asked with; nil until known
}

// chain is the credential behind a request: the key or token, the
// delegation hops it passed through (oldest first), or the admin key
// that vouched for a request without one.
type chain struct {
	Credential string
	Hops       []string
	VouchedBy  string
}

// maxChains bounds the cache of approval chains.
const maxChains = 4096

// chainOf finds the credential of approval a in the audit record of the
// check that opened it. A chain, once found, never changes, so it is
// cached; one not found yet (the record not stored yet) is asked again.
func (c *Console) chainOf(r *http.Request, s *session, a *wire.ApprovalView) *chain {
	key := s.who.Tenant + "\x00" + a.ID
	c.chainsMu.Lock()
	ch, ok := c.chains[key]
	c.chainsMu.Unlock()
	if ok {
		return ch
	}
	q := url.Values{}
	q.Set("agent_id", a.AgentID)
	q.Set("tool", a.ToolName)
	q.Set("effect", "needs_approval")
	q.Set("since", a.CreatedAt.Add(-time.Minute).UTC().Format(time.RFC3339Nano))
	q.Set("until", a.CreatedAt.Add(time.Minute).UTC().Format(time.RFC3339Nano))
	q.Set("limit", "1000")
	var page wire.AuditPage
	if err := c.callAPI(r, s.key, http.MethodGet, "/v1/audit?"+q.Encode(), nil, &page); err != nil {
		return nil
	}
	for _, rec := range page.Records {
		if rec.ApprovalID != a.ID {
			continue
		}
		ch = &chain{Credential: rec.CredentialID, Hops: rec.HopIDs, VouchedBy: rec.VouchedBy}
		c.chainsMu.Lock()
		if len(c.chains) >= maxChains {
			clear(c.chains)
		}
		c.chains[key] = ch
		c.chainsMu.Unlock()
		return ch
	}
	return nil
}

func (c *Console) pendingApprovals(r *http.Request, s *session) ([]approvalCard, error) {
	var list wire.ApprovalList
	if err := c.callAPI(r, s.key, http.MethodGet, "/v1/approvals?status=pending&limit=500", nil, &list); err != nil {
		return nil, err
	}
	now := c.now()
	out := make([]approvalCard, 0, len(list.Approvals))
	for _, a := range list.Approvals {
		if !a.ExpiresAt.After(now) {
			continue
		}
		as, whole := attrs(a.Attributes)
		hidden := redacted(a.Attributes)
		out = append(out, approvalCard{ApprovalView: a, Attrs: as, Whole: whole && !hidden, Hidden: hidden,
			Own: a.AgentID == s.who.AgentID, Chain: c.chainOf(r, s, &a)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

func (c *Console) approvalsPage(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	cards, err := c.pendingApprovals(r, s)
	if err != nil {
		c.fail(w, r, s, h, err)
		return
	}
	v := c.newView(s, "Approvals", "approvals")
	v.Live, v.Data = "/ui/events/approvals", cards
	c.render(w, http.StatusOK, "approvals", v)
}

var (
	errNoApproval = errors.New("no approval named")
	errNoAgent    = errors.New("no agent named")
)

// decide approves or denies in the person's name; the API applies the
// rules (not the agent that asked, only approvers the rule names).
func (c *Console) decide(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	id, verb := r.PostFormValue("id"), r.PathValue("verb")
	if verb != "approve" && verb != "deny" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if id == "" {
		c.back(w, r, s, h, "/ui/approvals", "", errNoApproval)
		return
	}
	req := wire.DecideRequest{Note: r.PostFormValue("note")}
	done := "Approved " + id
	if verb == "deny" {
		done = "Denied " + id
	}
	// "Remember": later requests like this one are let through without
	// asking, as far as the rule allows (the API checks the bounds).
	if uses := r.PostFormValue("remember_uses"); verb == "approve" && r.PostFormValue("remember") == "1" {
		n, err := strconv.Atoi(uses)
		if err != nil || n < 0 {
			c.back(w, r, s, h, "/ui/approvals", "", fmt.Errorf("remember: %q is not a number of uses", uses))
			return
		}
		req.Remember = &wire.Remember{Uses: n, ValidFor: r.PostFormValue("remember_for")}
		if res := strings.TrimSpace(r.PostFormValue("remember_resources")); res != "" {
			req.Remember.Resources = strings.Split(res, ",")
		}
		done = fmt.Sprintf("Approved %s, and %d more like it", id, n)
	}
	var out wire.ApprovalView
	err := c.callAPI(r, s.key, http.MethodPost, "/v1/approvals/"+url.PathEscape(id)+"/"+verb, req, &out)
	c.audit(s, verb, id, err)
	if err == nil && out.GrantID != "" {
		c.audit(s, "remember", out.GrantID, nil)
	}
	c.back(w, r, s, h, "/ui/approvals", done, err)
}

func (c *Console) suspendResume(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	id, verb := r.PostFormValue("id"), r.PathValue("verb")
	var body any
	switch verb {
	case "suspend":
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if reason == "" {
			reason = "suspended from the console by " + s.who.AgentID
		}
		body = wire.SuspendRequest{Reason: reason}
	case "resume":
	default:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if id == "" {
		c.back(w, r, s, h, "/ui/agents", "", errNoAgent)
		return
	}
	err := c.callAPI(r, s.key, http.MethodPost, "/v1/agents/"+url.PathEscape(id)+"/"+verb, body, nil)
	c.audit(s, verb, id, err)
	done := "Suspended " + id + ": its checks now deny"
	if verb == "resume" {
		done = "Resumed " + id
	}
	c.back(w, r, s, h, "/ui/agents", done, err)
}
