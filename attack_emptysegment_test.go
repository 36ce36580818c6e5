package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// emptySegmentPolicy denies a directory and an admin API; everything else
// is allowed.
const emptySegmentPolicy = `
rules:
  - id: no-secrets
    effect: deny
    tools: [fs.read]
    resources: ["/data/secret/**"]
  - id: no-admin
    effect: deny
    tools: [http.get]
    resources: ["https://api.example.com/admin/**"]
  - id: rest
    effect: allow
`

// TestAttackEmptySegmentDodgesDeny: a resource with an empty path segment
// is another spelling of the same path to whatever serves it: POSIX file
// systems read "/data//secret/key" and "//data/secret/key" as
// "/data/secret/key", and nginx (merge_slashes, on by default) serves
// "/admin/users" for "//admin/users". A glob sees other text and the
// deny rule is skipped, as it would be for a dot segment. Such a resource
// is refused with ErrInvalidRequest; the "//" that opens a URL's
// authority ("https://", "file:///") is not an empty segment.
func TestAttackEmptySegmentDodgesDeny(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, emptySegmentPolicy)
	for _, tc := range []struct {
		name, tool, resource string
		refused              bool // else allowed
	}{
		{"doubled slash inside a path", "fs.read", "/data//secret/key", true},
		{"doubled leading slash", "fs.read", "//data/secret/key", true},
		{"tripled slash", "fs.read", "/data///secret/key", true},
		{"file URL with an empty segment", "fs.read", "file:////data/secret/key", true},
		{"doubled slash after the host", "http.get", "https://api.example.com//admin/users", true},
		// Controls: what stays allowed.
		{"plain path", "fs.read", "/data/public/key", false},
		{"trailing slash", "fs.read", "/data/public/", false},
		{"URL", "http.get", "https://api.example.com/v1/users", false},
		{"file URL", "fs.read", "file:///data/public/key", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: tc.tool, Resource: tc.resource})
			if tc.refused {
				if !errors.Is(err, agenttrust.ErrInvalidRequest) {
					t.Fatalf("err = %v, want %v; %q: decision %+v", err, agenttrust.ErrInvalidRequest, tc.resource, d)
				}
				if d.Effect != agenttrust.Deny {
					t.Fatalf("got %v, want %v", d.Effect, agenttrust.Deny)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v", err)
			}
			if !d.Allowed() {
				t.Fatalf("%q: %+v", tc.resource, d)
			}
		})
	}
	// Policies and caveats cannot name such a resource either; a pattern
	// for any scheme keeps its "://".
	for _, tc := range []struct {
		name, pattern string
		refused       bool
	}{
		{"pattern with an empty segment", "/data//secret/**", true},
		{"URL pattern with an empty segment", "https://api.example.com//admin/*", true},
		{"URL pattern", "https://api.example.com/**", false},
		{"any scheme", "*://api.example.com/**", false},
	} {
		t.Run("policy/"+tc.name, func(t *testing.T) {
			_, err := agenttrust.ParsePolicy([]byte(`{"rules":[{"id":"r","effect":"deny","resources":[`+jsonString(tc.pattern)+`]}]}`), "json")
			_, cerr := agenttrust.Attenuate(testToken(t), "resource in "+quoteCond(tc.pattern))
			if !tc.refused {
				if err != nil {
					t.Fatalf("%v", err)
				}
				if cerr != nil {
					t.Fatalf("%v", cerr)
				}
				return
			}
			var pe *agenttrust.PolicyError
			if !(errors.As(err, &pe) && pe.Rule == "r") {
				t.Fatalf("policy with %q: %v", tc.pattern, err)
			}
			if cerr == nil {
				t.Fatalf("caveat with %q", tc.pattern)
			}
		})
	}
}
