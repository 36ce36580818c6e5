package memory

import (
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
	tableAudit     = "audit"     // *store.AuditRecord by Seq

	indexID          = "id"
	indexIDPrefix    = "id_prefix"
	indexFingerprint = "fingerprint" // approvals by (tenant, fingerprint)
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
				// UintFieldIndex encodes big-endian, so the index iterates in
				// Seq order.
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.UintFieldIndex{Field: "Seq"}},
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

func policyIndexKey(obj any) ([]string, bool) {
	d, ok := obj.(*store.PolicyDoc)
	if !ok {
		return nil, false
	}
	return []string{d.Tenant}, true
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
