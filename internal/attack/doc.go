// Package attack is agenttrust's own attack suite: tests that play the
// attacker against the library (agenttrust.New over store/memory,
// store/sqlite and store/postgres) and against the HTTP API of
// `agenttrust serve` (package server, through httptest), and prove that
// the guarantees stated in SECURITY.md hold. It has no code of its own;
// everything is in its tests.
//
// # Organisation
//
// One file per class of attack, attack_<class>_test.go:
//
//   - forgery: API keys and tokens that were made up, edited, truncated,
//     re-rooted, re-encoded, or attenuated in an attempt to widen them.
//   - jwt: JWTs with another algorithm, key, kid, issuer, audience or
//     lifetime, and JWTs whose parts were edited.
//   - tenant: credentials and ids of one tenant used against another.
//   - roles: every API route called with a credential whose roles do not
//     allow it, and credentials that are revoked, suspended or expired.
//   - failclosed: a store, policy engine or audit sink that fails, a
//     PostgreSQL link that is cut, a closed client, a cancelled context, a
//     stale revocation view, malformed requests and requests whose audit
//     record the store could refuse: every one must deny with its typed
//     error, and none may stop the trail.
//   - auditchain: an attacker with write access to the audit table deletes,
//     rewrites, re-chains and forges records under a running server.
//   - revocation: a revocation outlives everything it covers, whichever
//     node revoked and whichever node prunes.
//   - errorleak: a cut PostgreSQL link, and no response tells the caller
//     what the driver said about the database.
//
// Each test is named TestAttack<Class><Target> and is a table: one named
// subtest per attack, asserting the sentinel or typed error (errors.Is,
// errors.As) and that the decision is a Deny, or, for the HTTP API, the
// status and the error code. Tests that run on a store run once per
// backend (subtests "memory", "sqlite", "postgres"). harness_test.go holds
// the small harness: a fixed clock, the backends, a store that fails on
// demand, token surgery and an HTTP client.
//
// A case that documents a guarantee that does not hold yet is kept and
// skipped with "known failure: ..." so that it runs again once fixed.
//
// # Running
//
// The package is a module of its own, so that the core module does not
// require the SQL drivers; from the repository root (go.work):
//
//	go test ./internal/attack
//
// The PostgreSQL cases run when AGENTTRUST_TEST_POSTGRES holds the URL of
// a database they may create schemas in, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable; they skip
// otherwise. Each test uses a fresh schema and drops it at the end.
package attack
