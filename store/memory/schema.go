package memory

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/agenttrust/agenttrust/store"
)

// Tables and indexes of the memdb database. Every table has the unique "id"
// index memdb requires; its keys are tuples of strings (see keyIndex), so a
// prefix scan on "id_prefix" with a tenant lists that tenant's rows.
const (
	tableBlocks    = "blocks"    // *store.Block by (tenant, id, kind)
	tableApprovals = "approvals" // *store.Approval by (tenant, id)
	tablePolicies  = "policies"  // *store.PolicyDoc by (tenant)
	tableAudit     = "audit"     // *store.AuditRecord by (chain, seq)
	tableHeads     = "heads"     // the *store.AuditRecord at the head of each chain, by chain
	tableKeys      = "keys"      // *store.Key by id; by (tenant, id); by hash
	tableHops      = "hops"      // *store.Hop by id; by (tenant, id)
	tableGrants    = "grants"    // *store.Grant by (tenant, id)

	indexID           = "id"
	indexIDPrefix     = "id_prefix"
	indexFingerprint  = "fingerprint" // approvals by (tenant, fingerprint)
	indexTenant       = "tenant"      // keys and hops by (tenant, id)
	indexTenantPrefix = "tenant_prefix"
	indexHash         = "hash" // keys by hash
)

// schema returns the database schema. It is built on each call so that no
// package-level value can be mutated.
func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableBlocks: {
			Name: tableBlocks,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: keyIndex{n: 3, key: blockIndexKey}},
			},
		},
		tableApprovals: {
			Name: tableApprovals,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: keyIndex{n: 2, key: approvalIndexKey}},
				indexFingerprint: {
					Name:    indexFingerprint,
					Indexer: keyIndex{n: 2, key: approvalFingerprintKey},
				},
			},
		},
		tablePolicies: {
			Name: tablePolicies,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: keyIndex{n: 1, key: policyIndexKey}},
			},
		},
		tableAudit: {
			Name: tableAudit,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: auditIndex{}},
			},
		},
		tableHeads: {
			Name: tableHeads,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: keyIndex{n: 1, key: headIndexKey}},
			},
		},
		tableKeys: {
			Name: tableKeys,
			Indexes: map[string]*memdb.IndexSchema{
				indexID:     {Name: indexID, Unique: true, Indexer: keyIndex{n: 1, key: keyIDKey}},
				indexTenant: {Name: indexTenant, Unique: true, Indexer: keyIndex{n: 2, key: keyTenantKey}},
				indexHash:   {Name: indexHash, Unique: true, Indexer: hashIndex{}},
			},
		},
		tableGrants: {
			Name: tableGrants,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: keyIndex{n: 2, key: grantIndexKey}},
			},
		},
		tableHops: {
			Name: tableHops,
			Indexes: map[string]*memdb.IndexSchema{
				indexID:     {Name: indexID, Unique: true, Indexer: keyIndex{n: 1, key: hopIDKey}},
				indexTenant: {Name: indexTenant, Unique: true, Indexer: keyIndex{n: 2, key: hopTenantKey}},
			},
		},
	}}
}

func blockIndexKey(obj any) ([]string, bool) {
	b, ok := obj.(*store.Block)
	if !ok {
		return nil, false
	}
	return []string{b.Tenant, b.ID, b.Kind.String()}, true
}

func approvalIndexKey(obj any) ([]string, bool) {
	a, ok := obj.(*store.Approval)
	if !ok {
		return nil, false
	}
	return []string{a.Tenant, a.ID}, true
}

func approvalFingerprintKey(obj any) ([]string, bool) {
	a, ok := obj.(*store.Approval)
	if !ok {
		return nil, false
	}
	return []string{a.Tenant, a.Fingerprint}, true
}

func grantIndexKey(obj any) ([]string, bool) {
	g, ok := obj.(*store.Grant)
	if !ok {
		return nil, false
	}
	return []string{g.Tenant, g.ID}, true
}

func policyIndexKey(obj any) ([]string, bool) {
	d, ok := obj.(*store.PolicyDoc)
	if !ok {
		return nil, false
	}
	return []string{d.Tenant}, true
}

func headIndexKey(obj any) ([]string, bool) {
	r, ok := obj.(*store.AuditRecord)
	if !ok {
		return nil, false
	}
	return []string{r.Chain}, true
}

func keyIDKey(obj any) ([]string, bool) {
	k, ok := obj.(*store.Key)
	if !ok {
		return nil, false
	}
	return []string{k.ID}, true
}

func keyTenantKey(obj any) ([]string, bool) {
	k, ok := obj.(*store.Key)
	if !ok {
		return nil, false
	}
	return []string{k.Tenant, k.ID}, true
}

func hopIDKey(obj any) ([]string, bool) {
	h, ok := obj.(*store.Hop)
	if !ok {
		return nil, false
	}
	return []string{h.ID}, true
}

func hopTenantKey(obj any) ([]string, bool) {
	h, ok := obj.(*store.Hop)
	if !ok {
		return nil, false
	}
	return []string{h.Tenant, h.ID}, true
}

// keyIndex indexes objects by a tuple of n strings. Each component is
// written as its length (uvarint) then its bytes, so the empty string (the
// default tenant) is a valid component, no component can run into the next,
// and the key of a leading part of the tuple is a byte prefix of the whole
// key, which is what a prefix scan needs. memdb's StringFieldIndex cannot be
// used: it treats "" as missing.
type keyIndex struct {
	n   int
	key func(obj any) ([]string, bool)
}

var (
	_ memdb.SingleIndexer = keyIndex{}
	_ memdb.PrefixIndexer = keyIndex{}
)

// FromObject implements memdb.SingleIndexer.
func (x keyIndex) FromObject(obj any) (bool, []byte, error) {
	parts, ok := x.key(obj)
	if !ok {
		return false, nil, fmt.Errorf("agenttrust/store/memory: cannot index %T", obj)
	}
	var buf []byte
	for _, p := range parts {
		buf = appendKeyPart(buf, p)
	}
	return true, buf, nil
}

// FromArgs implements memdb.Indexer: the whole tuple, as strings.
func (x keyIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != x.n {
		return nil, fmt.Errorf("agenttrust/store/memory: index wants %d arguments, got %d", x.n, len(args))
	}
	return encodeKeyArgs(args)
}

// PrefixFromArgs implements memdb.PrefixIndexer: a leading part of the
// tuple, as strings.
func (x keyIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	if len(args) > x.n {
		return nil, fmt.Errorf("agenttrust/store/memory: index wants at most %d arguments, got %d", x.n, len(args))
	}
	return encodeKeyArgs(args)
}

func encodeKeyArgs(args []any) ([]byte, error) {
	var buf []byte
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("agenttrust/store/memory: index argument %d is %T, want string", i, a)
		}
		buf = appendKeyPart(buf, s)
	}
	return buf, nil
}

func appendKeyPart(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// auditIndex indexes audit records by (Chain, Seq) so that the byte order
// of the keys is (Chain, Seq) order, strings compared bytewise as
// strings.Compare does: the chain's bytes with each 0x00 written as 0x00
// 0x01, then 0x00 0x00, then Seq big-endian. No key is a prefix of
// another, and a shorter chain sorts before a longer one it begins.
type auditIndex struct{}

var _ memdb.SingleIndexer = auditIndex{}

// FromObject implements memdb.SingleIndexer.
func (auditIndex) FromObject(obj any) (bool, []byte, error) {
	r, ok := obj.(*store.AuditRecord)
	if !ok {
		return false, nil, fmt.Errorf("agenttrust/store/memory: cannot index %T", obj)
	}
	return true, auditKey(r.Chain, r.Seq), nil
}

// FromArgs implements memdb.Indexer: a chain (string) and a seq (uint64).
func (auditIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("agenttrust/store/memory: audit index wants 2 arguments, got %d", len(args))
	}
	chain, ok1 := args[0].(string)
	seq, ok2 := args[1].(uint64)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("agenttrust/store/memory: audit index wants (string, uint64), got (%T, %T)", args[0], args[1])
	}
	return auditKey(chain, seq), nil
}

func auditKey(chain string, seq uint64) []byte {
	buf := make([]byte, 0, len(chain)+2+8)
	for i := range len(chain) {
		if chain[i] == 0 {
			buf = append(buf, 0, 1)
		} else {
			buf = append(buf, chain[i])
		}
	}
	buf = append(buf, 0, 0)
	return binary.BigEndian.AppendUint64(buf, seq)
}

// hashIndex indexes keys by their 32-byte hash.
type hashIndex struct{}

var _ memdb.SingleIndexer = hashIndex{}

// FromObject implements memdb.SingleIndexer.
func (hashIndex) FromObject(obj any) (bool, []byte, error) {
	k, ok := obj.(*store.Key)
	if !ok {
		return false, nil, fmt.Errorf("agenttrust/store/memory: cannot index %T", obj)
	}
	return true, bytes.Clone(k.Hash[:]), nil
}

// FromArgs implements memdb.Indexer: one [32]byte.
func (hashIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("agenttrust/store/memory: hash index wants 1 argument, got %d", len(args))
	}
	h, ok := args[0].([32]byte)
	if !ok {
		return nil, fmt.Errorf("agenttrust/store/memory: hash index argument is %T, want [32]byte", args[0])
	}
	return h[:], nil
}
