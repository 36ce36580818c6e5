package agenttrust

import (
	"encoding/json"
	"strings"
	"testing"
)

// A mint record lists caveats up to its bound and counts the rest, never
// cutting one; its digest covers them all.
func TestMintRecordBound(t *testing.T) {
	// Backslashes, which JSON doubles: the bound holds as encoded.
	big := "attr.note = " + strings.Repeat(`\\`, 1800)
	all := []string{"agent = bot", big, big, "tool in a"}
	op := (&mintRecord{tool: opExchange, id: "tok_x", agent: "bot", caveats: all}).operation()
	got := map[string]any{}
	for _, kv := range op.kvs {
		got[kv.Name] = kv.Value
	}
	var shown []string
	if err := json.Unmarshal(got["caveats"].(json.RawMessage), &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown) != 2 || shown[1] != big || got["caveats_omitted"] != 2 {
		t.Errorf("shown %d caveats, omitted %v; want 2 and 2", len(shown), got["caveats_omitted"])
	}
	if got["caveats_sha256"] != caveatsDigest(all) || caveatsDigest(all) == caveatsDigest(shown) {
		t.Error("the digest does not cover every caveat")
	}
	if len(appendKVs(nil, op.kvs, &redactor{})) > maxAuditAttrBytes {
		t.Error("the record's attributes exceed the audit bound")
	}
}
