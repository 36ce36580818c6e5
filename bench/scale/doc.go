// Package scale measures how the latency of agenttrust's Check grows with
// the state it decides over: API keys (one agent each), policy rules,
// revocations in the store and delegation hops in the token presented.
//
// Run loads each size into each store, times Check on a request that the
// loaded state must answer (the checked key among the loaded ones, the
// matching rule behind all the generated ones, revocations of other ids),
// prints one row per point (the median and the fastest of five timed
// loops; other processes on a shared machine only add time) and, per
// curve, the ratio of its latency at the largest size to that at the
// smallest: within 2x counts as flat. It writes one PNG per dimension,
// scale-<dimension>.png, with log-scaled axes and one line per store.
//
// Policies come in two shapes: "mixed" rules of other agents and tools,
// which an index skips, and "same-pair" rules that all name the
// request's agent and tool with resource globs of their own.
//
// Stores: memory always; SQLite for keys and revocations, loaded in one
// transaction per step; PostgreSQL for revocations when
// AGENTTRUST_TEST_POSTGRES holds a database URL (a schema of its own,
// dropped at the end), loaded with COPY. Revocations are measured in
// strict mode (each check asks the store) and in notify mode (each check
// reads the client's in-memory view; see agenttrust.WithNotify). Notify
// mode runs with a staleness bound of 5s (SQLite, which has no change
// feed: 1h, polling every 30m), so that a loaded machine does not turn
// the measured checks into fail-closed denies, and is measured once the
// client's first background reread of the view is over. The memory
// store, whose Revoke and CreateKey copy a tenant's entries, is loaded
// through its own API until Options.LoadBudget says the next size would
// take too long.
//
// Alone:
//
//	cd bench && go run ./scale/cmd/scale -plots /tmp/scale
package scale
