// Package apispec holds api/openapi.yaml to the server: its tests drive
// every operation of the spec through a real server.Server and validate
// each request and response against the spec with kin-openapi, and run a
// TypeScript client generated from the spec (api/ts) against a server. It
// has no code of its own, and is a module of its own so that the core
// module does not require kin-openapi.
package apispec
