// Package mac holds the tests of internal/mac against gopkg.in/macaroon.v2:
// the golden vectors as the library mints them, differential fuzzing of
// Decode, interoperability both ways, and the decode-and-verify benchmark
// beside the library's. They live in the bench module so that the core
// module does not require the library; internal/mac keeps its own tests
// on the same golden vectors.
package mac
