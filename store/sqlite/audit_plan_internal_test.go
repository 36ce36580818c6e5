package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// TestAuditPagingUsesKey: a page of one chain's records after a seq is
// found through the primary key's range, not by scanning the chain from
// its start, which made reading a long chain page by page quadratic (a
// million records took over a minute to replay).
func TestAuditPagingUsesKey(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, tc := range map[string]struct {
		q    store.AuditQuery
		want string
	}{
		"one chain":    {store.AuditQuery{Chain: "c", AfterSeq: 4000, Limit: 1000}, "chain=? AND seq>?"},
		"every chain":  {store.AuditQuery{AfterChain: "c", AfterSeq: 4000, Limit: 1000}, "(chain,seq)>(?,?)"},
		"other chains": {store.AuditQuery{Chain: "d", AfterChain: "c", AfterSeq: 4000, Limit: 1000}, "chain=?"},
		// The server's pages: every chain of one tenant. On the tenant's
		// index each page sorted all the tenant's records again.
		"one tenant": {store.AuditQuery{Tenant: "acme", AfterChain: "c", AfterSeq: 4000, Limit: 1000}, "(chain,seq)>(?,?)"},
	} {
		query, args := auditQuery(tc.q)
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, "sqlite_autoindex_audit_1 ("+tc.want) {
			t.Errorf("%s: plan %q, want the key's range %q", name, got, tc.want)
		}
	}
}
