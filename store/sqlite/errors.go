package sqlite

import "errors"

// ErrNewerSchema is returned by Open for a database whose schema version is
// newer than the migrations this code knows: it was written by a later
// release, and this one must not read or change it.
var ErrNewerSchema = errors.New("agenttrust/store/sqlite: database schema is newer than this code")

// errBadMigration reports a malformed set of migrations: a bug of this
// package, caught by its tests.
var errBadMigration = errors.New("agenttrust/store/sqlite: malformed migrations")

// ErrInUse is returned by Open when the database is held by a Store opened
// WithExclusive, or when WithExclusive is asked for a database another
// Store holds, in this process or another.
var ErrInUse = errors.New("agenttrust/store/sqlite: database is in use by another process (or another Store of this one)")
