package storetest

import (
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

func keyCases() []testCase {
	return []testCase{
		{name: "CreateGet", run: testKeyCreateGet},
		{name: "NotFound", run: testKeyNotFound},
		{name: "DuplicateID", run: testKeyDuplicateID},
		{name: "DuplicateHash", run: testKeyDuplicateHash},
		{name: "SameIDOtherTenant", run: testKeySameIDOtherTenant},
		{name: "ByHashAcrossTenants", run: testKeyByHashAcrossTenants},
		{name: "PerTenant", run: testKeyPerTenant},
		{name: "Order", run: testKeyOrder},
		{name: "EmptySlices", run: testKeyEmptySlices},
	}
}

func testKeyCreateGet(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-1", 1, 0)), "CreateKey")
	want := apiKey(acme, "key-1", 1, 0)
	equalKey(t, "Key", getKey(t, e.s, acme, "key-1"), want)
	got, err := e.s.KeyByHash(ctx, keyHash(1))
	ok(t, err, "KeyByHash")
	equalKey(t, "KeyByHash", got, want)
	ks := listKeys(t, e.s, acme)
	if len(ks) != 1 {
		t.Fatalf("Keys = %q, want one key", keyIDs(ks))
	}
	equalKey(t, "Keys[0]", ks[0], want)
}

func testKeyNotFound(t *testing.T, e *env) {
	ctx := t.Context()
	_, err := e.s.Key(ctx, acme, "key-1")
	isErr(t, err, store.ErrNotFound, "Key of an unknown id")
	_, err = e.s.KeyByHash(ctx, keyHash(1))
	isErr(t, err, store.ErrNotFound, "KeyByHash of an unknown hash")
	equalKeys(t, "Keys of a tenant without keys", keyIDs(listKeys(t, e.s, acme)), nil)

	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-1", 1, 0)), "CreateKey")
	_, err = e.s.KeyByHash(ctx, keyHash(2))
	isErr(t, err, store.ErrNotFound, "KeyByHash of another hash")
	near := keyHash(1)
	near[31] ^= 1
	_, err = e.s.KeyByHash(ctx, near)
	isErr(t, err, store.ErrNotFound, "KeyByHash of a hash one bit away")
}

func testKeyDuplicateID(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-1", 1, 0)), "CreateKey")
	dup := apiKey(acme, "key-1", 2, 5)
	dup.Name = "other"
	isErr(t, e.s.CreateKey(ctx, dup), store.ErrConflict, "CreateKey with an existing id")

	equalKey(t, "Key after a conflict", getKey(t, e.s, acme, "key-1"), apiKey(acme, "key-1", 1, 0))
	_, err := e.s.KeyByHash(ctx, keyHash(2))
	isErr(t, err, store.ErrNotFound, "KeyByHash of the refused key's hash")
	equalKeys(t, "Keys after a conflict", keyIDs(listKeys(t, e.s, acme)), []string{"acme/key-1"})
}

// A hash finds at most one key in the whole store, so it is unique across
// tenants.
func testKeyDuplicateHash(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-1", 1, 0)), "CreateKey")
	isErr(t, e.s.CreateKey(ctx, apiKey(acme, "key-2", 1, 1)), store.ErrConflict, "CreateKey with an existing hash")
	isErr(t, e.s.CreateKey(ctx, apiKey(globex, "key-3", 1, 2)), store.ErrConflict, "CreateKey with an existing hash in another tenant")

	_, err := e.s.Key(ctx, acme, "key-2")
	isErr(t, err, store.ErrNotFound, "Key refused for its hash")
	_, err = e.s.Key(ctx, globex, "key-3")
	isErr(t, err, store.ErrNotFound, "Key refused for its hash in another tenant")
	got, err := e.s.KeyByHash(ctx, keyHash(1))
	ok(t, err, "KeyByHash")
	equalKey(t, "KeyByHash after conflicts", got, apiKey(acme, "key-1", 1, 0))
	equalKeys(t, "Keys(globex)", keyIDs(listKeys(t, e.s, globex)), nil)
}

// Whether a key id is unique per tenant or across tenants is the
// backend's choice; either way tenants do not see each other's keys.
func testKeySameIDOtherTenant(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-1", 1, 0)), "CreateKey")
	err := e.s.CreateKey(ctx, apiKey(globex, "key-1", 2, 1))
	if err != nil {
		isErr(t, err, store.ErrConflict, "CreateKey with an id existing in another tenant")
		_, err := e.s.Key(ctx, globex, "key-1")
		isErr(t, err, store.ErrNotFound, "Key refused for its id")
		_, err = e.s.KeyByHash(ctx, keyHash(2))
		isErr(t, err, store.ErrNotFound, "KeyByHash of a key refused for its id")
	} else {
		equalKey(t, "Key(globex)", getKey(t, e.s, globex, "key-1"), apiKey(globex, "key-1", 2, 1))
		got, err := e.s.KeyByHash(ctx, keyHash(2))
		ok(t, err, "KeyByHash")
		equalKey(t, "KeyByHash of globex's key", got, apiKey(globex, "key-1", 2, 1))
	}
	equalKey(t, "Key(acme)", getKey(t, e.s, acme, "key-1"), apiKey(acme, "key-1", 1, 0))
	got, err := e.s.KeyByHash(ctx, keyHash(1))
	ok(t, err, "KeyByHash")
	equalKey(t, "KeyByHash of acme's key", got, apiKey(acme, "key-1", 1, 0))
}

func testKeyByHashAcrossTenants(t *testing.T, e *env) {
	ctx := t.Context()
	keys := []store.Key{
		apiKey(acme, "key-a", 1, 0),
		apiKey(globex, "key-g", 2, 1),
		apiKey("", "key-e", 3, 2), // the empty tenant is a tenant like any other
	}
	for _, k := range keys {
		ok(t, e.s.CreateKey(ctx, k), "CreateKey in tenant "+k.Tenant)
	}
	for i, k := range keys {
		got, err := e.s.KeyByHash(ctx, keyHash(i+1))
		ok(t, err, "KeyByHash")
		equalKey(t, "KeyByHash of the key of tenant "+k.Tenant, got, k)
	}
}

// Key and Keys see one tenant's keys only; the empty tenant is a tenant
// like any other, not every tenant.
func testKeyPerTenant(t *testing.T, e *env) {
	ctx := t.Context()
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-a1", 1, 0)), "CreateKey")
	ok(t, e.s.CreateKey(ctx, apiKey(acme, "key-a2", 2, 1)), "CreateKey")
	ok(t, e.s.CreateKey(ctx, apiKey(globex, "key-g1", 3, 2)), "CreateKey")

	_, err := e.s.Key(ctx, globex, "key-a1")
	isErr(t, err, store.ErrNotFound, "Key of another tenant's key")
	_, err = e.s.Key(ctx, "", "key-a1")
	isErr(t, err, store.ErrNotFound, "Key in the empty tenant of another tenant's key")
	equalKeys(t, "Keys(acme)", keyIDs(listKeys(t, e.s, acme)), []string{"acme/key-a1", "acme/key-a2"})
	equalKeys(t, "Keys(globex)", keyIDs(listKeys(t, e.s, globex)), []string{"globex/key-g1"})
	equalKeys(t, `Keys("")`, keyIDs(listKeys(t, e.s, "")), nil)
	equalKeys(t, "Keys(initech)", keyIDs(listKeys(t, e.s, "initech")), nil)

	ok(t, e.s.CreateKey(ctx, apiKey("", "key-e1", 4, 3)), "CreateKey in the empty tenant")
	equalKeys(t, `Keys("")`, keyIDs(listKeys(t, e.s, "")), []string{"/key-e1"})
	equalKey(t, `Key("")`, getKey(t, e.s, "", "key-e1"), apiKey("", "key-e1", 4, 3))
}

// Keys are listed by CreatedAt, then ID.
func testKeyOrder(t *testing.T, e *env) {
	ctx := t.Context()
	for i, k := range []struct {
		id      string
		created int
	}{
		{"key-b", 20}, {"key-c", 10}, {"key-z", 5}, {"key-a", 10}, {"key-d", 30},
	} {
		ok(t, e.s.CreateKey(ctx, apiKey(acme, k.id, i+1, k.created)), "CreateKey")
	}
	ok(t, e.s.CreateKey(ctx, apiKey(globex, "key-0", 99, 0)), "CreateKey")
	equalKeys(t, "Keys(acme)", keyIDs(listKeys(t, e.s, acme)),
		[]string{"acme/key-z", "acme/key-a", "acme/key-c", "acme/key-b", "acme/key-d"})
}

// A key without roles, prefixes or caveats, and one without expiry, are
// stored and found as such.
func testKeyEmptySlices(t *testing.T, e *env) {
	ctx := t.Context()
	bare := apiKey(acme, "key-1", 1, 0)
	bare.Roles, bare.AllowedIPs, bare.Caveats = nil, []string{}, nil
	ok(t, e.s.CreateKey(ctx, bare), "CreateKey without roles, prefixes or caveats")
	never := apiKey(acme, "key-2", 2, 1)
	never.ExpiresAt = time.Time{}
	ok(t, e.s.CreateKey(ctx, never), "CreateKey without expiry")

	got, err := e.s.KeyByHash(ctx, keyHash(1))
	ok(t, err, "KeyByHash")
	equalKey(t, "KeyByHash", got, bare)
	equalKey(t, "Key", getKey(t, e.s, acme, "key-1"), bare)
	got = getKey(t, e.s, acme, "key-2")
	equalKey(t, "Key without expiry", got, never)
	if !got.ExpiresAt.IsZero() {
		t.Errorf("Key without expiry: ExpiresAt = %v, want the zero time", got.ExpiresAt)
	}
}
