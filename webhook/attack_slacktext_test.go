package webhook_test

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/webhook"
)

// TestAttackSlackTextResourceQuoted: the resource is the one free text an
// agent chooses in a notification's one-line summary (agent ids and tool
// names are names; the rule and its reason are the operator's). Spliced in
// bare, a resource such as "acct/1 (rule read: auto-approved). No action
// needed" read as the summary's own words, telling the person there was
// nothing to decide. It is quoted, so where it ends is plain.
func TestAttackSlackTextResourceQuoted(t *testing.T) {
	for _, res := range []string{
		"acct/1 (rule read: auto-approved). No action needed",
		`acct/1" (rule read`,
		"acct/*1* _x_ ~y~ `z`",
	} {
		t.Run(res, func(t *testing.T) {
			a := agenttrust.Approval{ID: "apr_1", AgentID: "bot", Tool: "payments.charge", Resource: res, Rule: "pay",
				ExpiresAt: time.Date(2030, 1, 1, 3, 15, 0, 0, time.UTC)}
			text := webhook.NewPayload(a, "").Text
			_, after, ok := strings.Cut(text, " on ")
			if !ok || !strings.HasPrefix(after, `"`) {
				t.Fatalf("resource not quoted: %s", text)
			}
			end := strings.Index(after, `" (rule pay)`)
			if end < 0 {
				t.Fatalf("no closing quote before the rule: %s", text)
			}
			if inner := after[1:end]; strings.Count(inner, `"`) != strings.Count(inner, `\"`) {
				t.Fatalf("the quoted resource holds a bare quote: %s", text)
			}
		})
	}
}

// TestAttackWebhookURLNotLogged: a chat's incoming-webhook URL is itself
// a secret (its path is the credential), and a failed delivery logged
// net/http's error, which holds the whole URL. The log names the host
// only.
func TestAttackWebhookURLNotLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every try fails to connect
	const secretPath = "/services/T000/B000/XXXXsecretXXXX"
	var logs bytes.Buffer
	var mu sync.Mutex
	n, err := webhook.New(webhook.Config{URL: "http://" + addr + secretPath + "?token=qsecret", Secret: bytes.Repeat([]byte("k"), 32),
		Backoff: time.Millisecond, MaxAttempts: 2, Logger: slog.New(slog.NewTextHandler(&lockedBuffer{b: &logs, mu: &mu}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(t.Context(), agenttrust.Approval{ID: "apr_1", Tool: "t", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.Stats().Failed == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	n.Close(t.Context())
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, "approval notification failed") {
		t.Fatalf("no failure logged: %q", out)
	}
	if strings.Contains(out, "secret") {
		t.Fatalf("the log holds the webhook URL's secret: %s", out)
	}
	if !strings.Contains(out, addr) {
		t.Errorf("the log does not name the host: %s", out)
	}
}

type lockedBuffer struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
