package console

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/wire"
)

// TestAttackSessionFloodManyKeys: one tenant cannot end another tenant's
// console sessions by signing in with many keys. Each key holds at most
// maxSessionsPerKey sessions, but a tenant's admin makes as many approver
// keys as it likes (POST /v1/keys): with MaxSessions/maxSessionsPerKey+1
// of them it filled the console, and each further sign-in ended the
// session idle the longest, whatever its tenant, so every other tenant's
// person was signed out.
func TestAttackSessionFloodManyKeys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		victims int // sessions of the victim tenant, each with a key of its own
		keys    int // the attacker tenant's keys, each signing in maxSessionsPerKey times
	}{
		{"one victim, console filled", 1, MaxSessions/maxSessionsPerKey + 1},
		{"many victims, console filled", 40, MaxSessions/maxSessionsPerKey + 1},
		{"one victim, console overfilled", 1, MaxSessions/maxSessionsPerKey + 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			c, err := New(Config{API: http.NotFoundHandler(), Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			var victims [][32]byte
			for i := range tc.victims {
				who := wire.PrincipalView{Tenant: "globex", AgentID: "bob", KeyID: fmt.Sprintf("key_victim%d", i), Roles: []string{"approver"}}
				id, _, err := c.newSession("atk_victim", who)
				if err != nil {
					t.Fatal(err)
				}
				victims = append(victims, sha256.Sum256([]byte(id)))
			}
			for k := range tc.keys {
				who := wire.PrincipalView{Tenant: "acme", AgentID: "mallory", KeyID: fmt.Sprintf("key_attacker%d", k), Roles: []string{"approver"}}
				for range maxSessionsPerKey {
					now = now.Add(time.Millisecond)
					if _, _, err := c.newSession("atk_attacker", who); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.sessions.mu.Lock()
			defer c.sessions.mu.Unlock()
			gone := 0
			for _, h := range victims {
				if _, ok := c.sessions.m[h]; !ok {
					gone++
				}
			}
			if gone > 0 {
				t.Errorf("%d of %d sessions of another tenant signed out by one tenant's sign-ins", gone, len(victims))
			}
			if n := len(c.sessions.m); n > MaxSessions {
				t.Errorf("%d sessions held, cap %d", n, MaxSessions)
			}
		})
	}
}
