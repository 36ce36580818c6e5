package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/webhook"
)

var secret = bytes.Repeat([]byte("k"), 32)

const policy = `{"rules":[{"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human"}]}`

// receiver records the notifications it is sent and answers with
// statuses in turn (200 once they run out).
type receiver struct {
	mu       sync.Mutex
	got      []webhook.Payload
	sigOK    []bool
	statuses []int
	hold     chan struct{} // when set, every request waits on it
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.hold != nil {
		select {
		case <-rc.hold:
		case <-r.Context().Done():
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	status := 200
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	if status == 200 {
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err == nil {
			rc.got = append(rc.got, p)
			rc.sigOK = append(rc.sigOK, webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0) == nil &&
				r.Header.Get(webhook.DeliveryHeader) == p.Approval.ID)
		}
	}
	w.WriteHeader(status)
}

func (rc *receiver) payloads() ([]webhook.Payload, []bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhook.Payload(nil), rc.got...), append([]bool(nil), rc.sigOK...)
}

// client is a Client over a memory store that notifies n.
func client(t *testing.T, n *webhook.Notifier) (*agenttrust.Client, string) {
	t.Helper()
	ctx := context.Background()
	pol, err := agenttrust.ParsePolicy([]byte(policy), "json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithTenant("acme"), agenttrust.WithPolicy(pol), agenttrust.WithNotifier(n.Notify))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEachPendingApprovalOnceSigned(t *testing.T) {
	rc := &receiver{}
	ts := httptest.NewServer(rc)
	defer ts.Close()
	n, err := webhook.New(webhook.Config{URL: ts.URL, Secret: secret, ConsoleURL: "https://console.example/", Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	c, key := client(t, n)
	ctx := context.Background()
	ids := map[string]bool{}
	for _, res := range []string{"acct/1", "acct/1", "acct/1", "<!channel> acct/2"} {
		d, err := c.Check(ctx, agenttrust.Request{Credential: key, Tool: "payments.charge", Resource: res})
		if err != nil || d.Effect != agenttrust.NeedsApproval {
			t.Fatalf("check: %v %v", d.Effect, err)
		}
		ids[d.ApprovalID] = true
	}
	if len(ids) != 2 {
		t.Fatalf("%d approvals, want 2", len(ids))
	}
	waitFor(t, "two deliveries", func() bool { return n.Stats().Delivered == 2 })
	time.Sleep(50 * time.Millisecond) // and no more
	got, sigOK := rc.payloads()
	if len(got) != 2 {
		t.Fatalf("receiver got %d notifications, want 2", len(got))
	}
	for i, p := range got {
		if !sigOK[i] {
			t.Errorf("notification %d: signature does not verify", i)
		}
		if !ids[p.Approval.ID] || p.Type != "approval.pending" || p.Approval.Tenant != "acme" || p.Approval.Rule != "pay" {
			t.Errorf("payload %+v", p)
		}
		if p.URL != "https://console.example/ui/approvals#"+p.Approval.ID || !strings.Contains(p.Text, "<"+p.URL+"|open in the console>") {
			t.Errorf("link: %q in %q", p.URL, p.Text)
		}
		delete(ids, p.Approval.ID)
	}
	// Deliveries may arrive in either order: find the hostile one.
	hostile := got[0]
	if strings.Contains(got[1].Text, "acct/2") {
		hostile = got[1]
	}
	if !strings.Contains(hostile.Text, "&lt;!channel&gt; acct/2") || strings.Contains(hostile.Text, "<!channel>") {
		t.Errorf("agent text not escaped for Slack: %q", hostile.Text)
	}
}

func TestSlowReceiverNeverBlocksACheck(t *testing.T) {
	rc := &receiver{hold: make(chan struct{})}
	ts := httptest.NewServer(rc)
	defer ts.Close()
	defer close(rc.hold)
	n, err := webhook.New(webhook.Config{URL: ts.URL, Secret: secret, Queue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	c, key := client(t, n)
	ctx := context.Background()
	start := time.Now()
	const checks = 20
	for i := range checks {
		d, err := c.Check(ctx, agenttrust.Request{Credential: key, Tool: "payments.charge", Resource: "acct/" + string(rune('a'+i))})
		if err != nil || d.Effect != agenttrust.NeedsApproval {
			t.Fatalf("check: %v %v", d.Effect, err)
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("%d checks took %v with a receiver that never answers", checks, el)
	}
	// One in flight, two queued, the rest dropped and counted.
	waitFor(t, "all notifications handled", func() bool {
		s := n.Stats()
		return s.Queued+s.Dropped == checks
	})
	if s := n.Stats(); s.Dropped < checks-3 || s.Delivered != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Close gives up on the receiver when its context ends.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := n.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v", err)
	}
	if err := n.Notify(ctx, agenttrust.Approval{ID: "apr_x"}); !errors.Is(err, webhook.ErrClosed) {
		t.Fatalf("Notify after Close: %v", err)
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		statuses                 []int
		delivered, failed, tries uint64
	}{
		{"transient failures, then success", []int{500, 503, 429}, 1, 0, 3},
		{"a refusal is not retried", []int{400}, 0, 1, 0},
		{"gives up after MaxAttempts", []int{500, 500, 500, 500}, 0, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{statuses: tc.statuses}
			ts := httptest.NewServer(rc)
			defer ts.Close()
			n, err := webhook.New(webhook.Config{URL: ts.URL, Secret: secret, Backoff: time.Millisecond, MaxAttempts: 4})
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "gives up after MaxAttempts" {
				n.Close(context.Background())
				n, _ = webhook.New(webhook.Config{URL: ts.URL, Secret: secret, Backoff: time.Millisecond, MaxAttempts: 3})
			}
			defer n.Close(context.Background())
			if err := n.Notify(context.Background(), agenttrust.Approval{ID: "apr_1", Tenant: "acme", Tool: "t"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the delivery to end", func() bool { s := n.Stats(); return s.Delivered+s.Failed == 1 })
			if s := n.Stats(); s.Delivered != tc.delivered || s.Failed != tc.failed || s.Retries != tc.tries {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"approval.pending"}`)
	good := webhook.Sign(secret, now, body)
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		at     time.Time
		ok     bool
	}{
		{"valid", secret, good, body, now, true},
		{"within tolerance", secret, good, body, now.Add(4 * time.Minute), true},
		{"stale", secret, good, body, now.Add(6 * time.Minute), false},
		{"from the future", secret, good, body, now.Add(-6 * time.Minute), false},
		{"wrong secret", bytes.Repeat([]byte("x"), 32), good, body, now, false},
		{"tampered body", secret, good, []byte(`{"type":"approval.pendinG"}`), now, false},
		{"timestamp changed", secret, strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, now, false},
		{"no signature", secret, "t=1800000000", body, now, false},
		{"empty", secret, "", body, now, false},
		{"not hex", secret, "t=1800000000,v1=zz", body, now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := webhook.Verify(tc.secret, tc.header, tc.body, tc.at, 0)
			if (err == nil) != tc.ok {
				t.Fatalf("Verify: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, webhook.ErrSignature) {
				t.Fatalf("error %v is not ErrSignature", err)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(webhook.Sign(secret, now, []byte("x")), []byte("x"))
	f.Add("t=,v1=", []byte(""))
	f.Add("v1=00,t=1800000000,t=1", []byte("y"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := webhook.Verify(secret, header, body, now, 0)
		if err == nil && header != webhook.Sign(secret, now.Add(time.Duration(0)), body) {
			// Only a header carrying the right HMAC verifies.
			if webhook.Verify(bytes.Repeat([]byte("z"), 32), header, body, now, 0) == nil {
				t.Fatalf("header %q verifies under two secrets", header)
			}
		}
	})
}

func TestConfig(t *testing.T) {
	for _, cfg := range []webhook.Config{
		{URL: "", Secret: secret},
		{URL: "ftp://x", Secret: secret},
		{URL: "http://x", Secret: []byte("short")},
		{URL: "http://x", Secret: secret, ConsoleURL: "javascript:alert(1)"},
		{URL: "http://x", Secret: secret, Queue: -1},
	} {
		if _, err := webhook.New(cfg); !errors.Is(err, webhook.ErrConfig) {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
}
