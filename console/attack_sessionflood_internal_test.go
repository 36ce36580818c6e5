package console

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/wire"
)

// TestAttackSessionFlood: one key cannot end other people's sessions by
// signing in over and over. The sessions are bounded (MaxSessions) and a
// sign-in at the bound ended the session idle the longest, whoever's it
// was, so an approver of one tenant could sign out every approver of
// every tenant. A key holds at most maxSessionsPerKey sessions; past that
// its own oldest session ends.
func TestAttackSessionFlood(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := New(Config{API: http.NotFoundHandler(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	victim := wire.PrincipalView{Tenant: "globex", AgentID: "bob", KeyID: "key_victim", Roles: []string{"approver"}}
	vid, _, err := c.newSession("atk_victim", victim)
	if err != nil {
		t.Fatal(err)
	}
	attacker := wire.PrincipalView{Tenant: "acme", AgentID: "mallory", KeyID: "key_attacker", Roles: []string{"approver"}}
	for i := range MaxSessions {
		now = now.Add(time.Millisecond)
		if _, _, err := c.newSession("atk_attacker", attacker); err != nil {
			t.Fatal(fmt.Errorf("sign-in %d: %w", i, err))
		}
	}
	c.sessions.mu.Lock()
	_, ok := c.sessions.m[sha256.Sum256([]byte(vid))]
	c.sessions.mu.Unlock()
	if !ok {
		t.Error("another tenant's approver was signed out by one key's sign-ins")
	}
	held := 0
	c.sessions.mu.Lock()
	for _, s := range c.sessions.m {
		if s.who.KeyID == attacker.KeyID {
			held++
		}
	}
	c.sessions.mu.Unlock()
	if held > maxSessionsPerKey {
		t.Errorf("one key holds %d sessions, cap %d", held, maxSessionsPerKey)
	}
}
