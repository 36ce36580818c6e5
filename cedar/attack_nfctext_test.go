package cedar_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	"github.com/agenttrust/agenttrust/store/memory"
	cedargo "github.com/cedar-policy/cedar-go"
)

// TestAttackPolicyTextNotNFC: Check normalises a request's resource to
// NFC before any engine sees it, and the Cedar engine refuses every other
// request string not in NFC. A Cedar policy naming text in another form
// (a resource in NFD, as macOS writes file names, pasted into a forbid)
// therefore never matched: the forbid on docs/Zürich was dead, and the
// very request cedar-go denies, given it as sent, was allowed. Such a
// policy is now refused when it loads (a *agenttrust.PolicyError
// naming the policy, matching agenttrust.ErrInvalidPolicy); the same
// policy written in NFC loads and denies the request in either form.
func TestAttackPolicyTextNotNFC(t *testing.T) {
	const (
		nfd = "Zu\u0308rich" // "Zürich" decomposed
		nfc = "Z\u00fcrich"
	)
	permit := "\n@id(\"all\") permit (principal, action, resource);"
	for _, tc := range []struct {
		name, forbid string
		resource     string         // the request's resource, as sent
		attrs        map[string]any // the request's attributes, as sent
	}{
		{"resource ==", `forbid (principal, action, resource == Resource::"docs/TEXT");`, "docs/" + nfd, nil},
		{"resource in", `forbid (principal, action, resource in Resource::"docs/TEXT");`, "docs/" + nfd, nil},
		{"resource is in", `forbid (principal, action, resource is Resource in Resource::"docs/TEXT");`, "docs/" + nfd, nil},
		{"context.resource like", `forbid (principal, action, resource) when { context.resource like "docs/TEXT/*" };`, "docs/" + nfd + "/q3.xlsx", nil},
		{"context.resource ==", `forbid (principal, action, resource) when { context.resource == "docs/TEXT" };`, "docs/" + nfd, nil},
		{"beside other literals", `forbid (principal, action, resource) when { context.resource == "docs/TEXT" && context.tool like "files.*" && context.agent == "bot" };`, "docs/" + nfd, nil},
		{"set of resources", `forbid (principal, action, resource) when { ["docs/a", "docs/TEXT"].contains(context.resource) };`, "docs/" + nfd, nil},
		{"resource entity in a condition", `forbid (principal, action, resource) when { resource == Resource::"docs/TEXT" };`, "docs/" + nfd, nil},
		{"attribute value", `forbid (principal, action, resource) when { context.attr has city && context.attr.city like "TEXT" };`, "r", map[string]any{"city": nfd}},
		{"attribute name", `forbid (principal, action, resource) when { context.attr has "TEXT" };`, "r", map[string]any{nfd: true}},
		{"record key", `forbid (principal, action, resource) when { context.attr == {"TEXT": true} };`, "r", map[string]any{nfd: true}},
	} {
		for _, form := range []struct {
			name, text string
		}{{"NFD", nfd}, {"NFC", nfc}} {
			t.Run(tc.name+"/"+form.name, func(t *testing.T) {
				src := "@id(\"zurich\") " + strings.ReplaceAll(tc.forbid, "TEXT", form.text) + permit
				// The reference: cedar-go, given the request as sent,
				// denies it by the forbid.
				ps, err := cedargo.NewPolicySetFromBytes("", []byte(src))
				if err != nil {
					t.Fatal(err)
				}
				attrs := cedargo.RecordMap{}
				for k, v := range tc.attrs {
					switch v := v.(type) {
					case string:
						attrs[cedargo.String(k)] = cedargo.String(v)
					case bool:
						attrs[cedargo.String(k)] = cedargo.Boolean(v)
					}
				}
				ref, _ := cedargo.Authorize(ps, nil, cedargo.Request{
					Principal: cedargo.NewEntityUID("Agent", "bot"),
					Action:    cedargo.NewEntityUID("Action", "files.read"),
					Resource:  cedargo.NewEntityUID("Resource", cedargo.String(tc.resource)),
					Context:   cedargo.NewRecord(cedargo.RecordMap{"resource": cedargo.String(tc.resource), "tool": cedargo.String("files.read"), "agent": cedargo.String("bot"), "attr": cedargo.NewRecord(attrs)}),
				})
				if form.name == "NFD" && ref != cedargo.Deny {
					t.Fatalf("cedar-go decided %v: the case no longer shows a deny", ref)
				}

				e, err := cedar.Parse("p.cedar", []byte(src))
				if form.name == "NFD" {
					var pe *agenttrust.PolicyError
					if err == nil || e != nil || !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.Rule != "zurich" || !strings.Contains(err.Error(), "NFC") {
						t.Errorf("Parse: %v; want a *agenttrust.PolicyError naming zurich, saying NFC", err)
					}
					if e == nil {
						return
					}
				} else if err != nil {
					t.Fatal(err)
				}
				// The policy that loads must deny the request, whether
				// sent in NFD or in NFC.
				c, err := agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(e))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				sent := []map[string]any{tc.attrs}
				resources := []string{tc.resource}
				if tc.attrs == nil {
					resources = append(resources, strings.ReplaceAll(tc.resource, nfd, nfc))
					sent = append(sent, nil)
				}
				for i, r := range resources {
					d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "files.read", Resource: r, Attributes: sent[i]})
					if d.Effect != agenttrust.Deny || (d.Rule != "zurich" && !errors.Is(err, agenttrust.ErrInvalidRequest)) {
						t.Errorf("Check %q %v: %v by %q (%v); want a deny by zurich", r, sent[i], d.Effect, d.Rule, err)
					}
				}
			})
		}
	}
}
