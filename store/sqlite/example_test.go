package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// A revocation is durable: it is still in force after the file is closed
// and opened again, as after a restart of the server.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "agenttrust")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "agenttrust.db")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	_ = s.Revoke(ctx, store.Block{Tenant: "acme", ID: "token-9", Reason: "leaked", CreatedAt: now})
	_ = s.AppendAudit(ctx, []store.AuditRecord{{Chain: "node-1", Seq: 1, Time: now, Tenant: "acme", Effect: store.Deny}})
	_ = s.Close()

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	b, blocked, _ := s.Blocked(ctx, "acme", []string{"agent-7", "token-9"})
	fmt.Println(blocked, b.Kind, b.ID, b.Reason)
	head, _ := s.AuditHead(ctx, "node-1")
	fmt.Println("audit head", head.Chain, head.Seq, head.Effect)

	_ = s.Close()
	_, _, err = s.Blocked(ctx, "acme", []string{"token-9"})
	fmt.Println(errors.Is(err, store.ErrClosed))
	// Output:
	// true revoked token-9 leaked
	// audit head node-1 1 deny
	// true
}
