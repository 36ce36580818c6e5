package sqlite

import (
	"errors"
	"fmt"

	"github.com/agenttrust/agenttrust/store"
)

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

// errEditedRecord reports an audit row stored otherwise than AppendAudit
// stores it (another storage class, an effect out of range): it was
// written behind the store's back, and a query filtering on that column
// would pass over it.
var errEditedRecord = fmt.Errorf("%w: an audit record stored in a form agenttrust never writes (a filtered query would miss it)", store.ErrCorrupt)
