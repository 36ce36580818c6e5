// Package cli is the machinery behind the agenttrust command that is not
// flag parsing: running the server (Serve) over SQLite or PostgreSQL, and
// the secrets file that keeps its token master keys and JWT signing keys
// across restarts (LoadSecrets, WriteSecrets).
//
// # Serving
//
// Serve opens the store, loads the secrets (generating them on the first
// start), seeds the system tenant's policy and first admin key when the
// store is new, then serves the HTTP API until its context ends. It then
// stops accepting connections, waits for requests in flight (checks
// included) up to ServeConfig.ShutdownTimeout, closes the server, which
// writes out every queued audit record, and closes the store.
//
// # Secrets
//
// The secrets file is JSON, mode 0600, written once and read on every
// later start:
//
//	{
//	  "version": 1,
//	  "master_keys":  [{"id": "mk_...", "secret": "<base64, 32 bytes or more>"}],
//	  "signing_keys": [{"id": "sk_...", "seed": "<base64, 32 bytes>"}],
//	  "audit_key":    "<base64, 32 bytes or more>"
//	}
//
// The first key of each list mints or signs; every key listed verifies,
// so a key is rotated by putting a new one first and retired by removing
// it. Retiring a master key ends every token it minted and every JWT made
// from one. The audit key never rotates: records made under it verify
// only with it. A file written before audit_key existed has none, and
// the first master key's secret stands in: copy that secret to audit_key
// before rotating master keys, or the node's checkpoint will not verify
// and it will refuse to start. A file that its group or others may read
// is refused.
package cli
