// Package readme runs the Go snippets of the repository's README.md as
// tests; the core module's TestREADMESnippetsAreCompiled checks that each
// README snippet appears in the file its marker names, so the README
// cannot drift from code that compiles and runs.
package readme
