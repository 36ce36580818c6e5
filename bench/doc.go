// Command bench measures agenttrust beside its peers and prints the
// figures, their ratios from the same run and the project's speed bars
// (BENCHMARKS.md at the repository root shows a run):
//
//	go run ./bench                    # from the repository root
//	go run ./bench -quick             # short measurements, for CI
//	go run ./bench -count 3 -json     # medians of 3 rounds, as JSON
//	go run ./bench -only credentials  # one section
//
// # Sections
//
//   - policy: one decision on the cedar-10 scenario (testdata), allowed
//     and denied, by agenttrust (Client.Check), cedar-go (Authorize) and
//     OPA (a prepared query of idiomatic Rego, cedar-10.rego), then with
//     synthetic policies of the same four shapes in each language up to
//     1,000 and 100,000 policies.
//   - credentials: an agenttrust token and JWT, verified and checked,
//     beside gopkg.in/macaroon.v2 unmarshalling and verifying the same
//     macaroon and golang-jwt parsing and verifying the same JWT (EdDSA)
//     and its claims signed with HS256.
//
// Each case is timed with testing.Benchmark in this one process, after
// its engine has been shown to decide as the scenario says; a case that
// decides otherwise stops the run. The bars print PASS or FAIL on what
// the run measured.
//
// The module is its own, github.com/agenttrust/agenttrust/bench, so
// that the peers (cedar-go, OPA, gopkg.in/macaroon.v2, golang-jwt,
// go-jose, a2a-go) and the database drivers the store benchmarks need
// stay out of the core module's requirements.
//
// # Tests
//
// Beside the command, the tests hold:
//
//   - BenchmarkCheck: one check of the cedar-10 scenario (testdata) by
//     the rule engine (policy, policy-100k, deny), on SQLite, PostgreSQL
//     and MySQL (strict mode, and notify mode for the shared databases),
//     with each credential (apikey, token3, token3-cached,
//     jwt), beside gopkg.in/macaroon.v2 verifying the same token
//     (macaroon-lib) and cedar-go deciding the same request (cedar).
//
//     What the four compared cases include: policy is a whole Check of
//     the in-process client (validation, revocation read, policy, decision
//     id, audit record queued); its audit flusher (chain HMAC, memory
//     ring) runs on another goroutine, and when it falls behind the
//     bounded queue makes checks wait, so the figure is the slower of the
//     two. cedar is cedar-go's Authorize alone, its request built per
//     call. token3 is that Check with a 3-caveat token as the credential
//     and TokenConfig.NoCache: every check base64-decodes the token,
//     derives its root key, verifies the whole HMAC chain and parses the
//     caveats; nothing is cached between iterations. macaroon-lib is
//     gopkg.in/macaroon.v2 unmarshalling the already base64-decoded bytes
//     of the same token and verifying its chain, and nothing else, also
//     with no cache.
//
//   - BenchmarkAuditMode and BenchmarkAuthenticate: the store-backed
//     paths.
//
//   - TestTokenVectorsLibrary and TestJWTVerifiesWithAnotherLibrary: the
//     root module's token vectors verify with gopkg.in/macaroon.v2 alone,
//     and its JWTs with go-jose.
//
//   - bench/mac: internal/mac against gopkg.in/macaroon.v2 (golden
//     vectors, differential fuzzing, interop, the codec benchmark).
//
//   - bench/a2a: middleware/a2a between a2a-go's own client and server.
//
//   - TestQuick and TestEnginesAgree: the command's sections in -quick
//     mode, and the three engines deciding the scenario alike; and
//     BenchmarkTable, the command's cases for benchstat.
//
// Run the comparison the README quotes with
//
//	cd bench && go test -run '^$' -bench 'BenchmarkCheck/(policy|cedar|token3|macaroon-lib)$' -benchmem
//
// The PostgreSQL cases run when AGENTTRUST_TEST_POSTGRES holds a database
// URL, the MySQL cases when AGENTTRUST_TEST_MYSQL holds a DSN (they create
// and drop a database of their own), and each skips otherwise. The store
// cases side by side:
//
//	cd bench && go test -run '^$' -bench 'BenchmarkCheck/(policy|postgres|postgres-notify|mysql|mysql-notify)$' -benchmem
package main
