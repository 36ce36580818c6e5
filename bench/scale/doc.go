// Package scale measures how the latency of agenttrust's Check grows with
// the state it decides over: API keys (one agent each), policy rules,
// revocations in the store and delegation hops in the token presented.
//
// Run loads each size into each store, times Check on a request that the
// loaded state must answer (the checked key among the loaded ones, the
// matching rule among the generated ones, revocations of other ids),
// prints one row per point and, per curve, the ratio of its largest to
// its smallest latency: within 2x counts as flat. It writes one PNG per
// dimension, scale-<dimension>.png, with log-scaled sizes and one line per
// store.
//
// Stores: memory always; SQLite for keys and revocations, loaded in one
// transaction per step; PostgreSQL for revocations when
// AGENTTRUST_TEST_POSTGRES holds a database URL (a schema of its own,
// dropped at the end), loaded with COPY. Revocations are measured in
// strict mode (each check asks the store) and in notify mode (each check
// reads the client's in-memory view; see agenttrust.WithNotify).
//
// Alone:
//
//	cd bench && go run ./scale/cmd/scale -plots /tmp/scale
package scale
