package mysql_test

import (
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/internal/storefaults"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/mysql"
)

// TestNodes runs the two-node suite: two agenttrust nodes sharing one
// MySQL database in strict mode, in notify mode through the polled change
// log, and under faults of the link with audit recovery.
func TestNodes(t *testing.T) {
	storefaults.Nodes(t, storefaults.NodesConfig{
		Pair: func(t *testing.T) (store.Store, store.Store) {
			a, dsn := newStore(t)
			return a, open(t, dsn)
		},
		Faulty: func(t *testing.T, timeout time.Duration) (store.Store, store.Store, *faultproxy.Proxy) {
			dsn := freshDatabase(t, testDSN(t))
			pDSN, proxy := proxyDSN(t, dsn)
			return open(t, pDSN, mysql.WithQueryTimeout(timeout)), open(t, dsn), proxy
		},
		StrictTrials: 1000,
		NotifyRounds: 200,
		MaxStaleness: 250 * time.Millisecond,
		Race:         raceEnabled,
		Margin:       faultMargin,
	})
}
