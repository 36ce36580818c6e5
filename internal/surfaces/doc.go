// Package surfaces holds the tests that hold every surface of agenttrust
// to one authorization model: the same policy gives the same decision for
// the same action through Guard, the HTTP middleware, MCP and an
// agent-to-agent call. It has no code of its own, and is a module of its
// own so that the core module does not require the MCP SDK.
package surfaces
