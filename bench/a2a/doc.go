// Package a2a holds the interoperability test of middleware/a2a with
// a2a-go's own client and server. It lives in the bench module so that
// the core module, which holds middleware/a2a, does not require a2a-go.
package a2a
