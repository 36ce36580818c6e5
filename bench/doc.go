// Package bench measures agenttrust against its peers and checks that it
// interoperates with them. It is its own module,
// github.com/agenttrust/agenttrust/bench, so that the peers (cedar-go,
// gopkg.in/macaroon.v2, go-jose, a2a-go) and the database drivers the
// store benchmarks need stay out of the core module's requirements.
//
// Everything is in tests:
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
package bench
