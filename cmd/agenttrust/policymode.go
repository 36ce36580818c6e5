package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/agenttrust/agenttrust"
)

func policyModeCommand() *command {
	return &command{
		name:    "mode",
		args:    "TOOL [auto|ask|deny|clear]",
		summary: "Show or set a tool's mode in the stored policy (admin to set)",
		help: `Show or set the mode of a tool (a name or a glob) in the stored policy's
tool_modes: "deny" denies every call to it; "ask" holds for approval what the
rules allow; "auto" allows what the rules would hold for approval. A deny of
the rules stays a deny whatever the mode. "clear" removes the entry.

For a tool name, the mode shown is the one that applies to it (its own
entry, else the longest glob, else the stricter mode) and the entry it
comes from. Setting on a name a mode looser than a glob's entry applies
to it is refused: its own entry would take precedence over the glob's;
so is setting on a glob a mode looser than a shorter glob's that may
match the same tools, which the longer glob would take precedence over.

The change is applied like "policy apply": a new version of the stored
document, refused if another change lands first, and recorded in the audit
trail. A YAML document keeps its comments and layout; a JSON one is written
again with its keys sorted.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				if len(args) < 1 || len(args) > 2 {
					return usagef("want a tool (name or glob) and, to set it, a mode: auto, ask, deny or clear")
				}
				tool, mode := args[0], ""
				if len(args) == 2 {
					mode = args[1]
					switch mode {
					case "auto", "ask", "deny", "clear":
					default:
						return usagef("mode %q: want auto, ask, deny or clear", mode)
					}
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				doc, err := rc.Policy(ctx)
				if errors.Is(err, agenttrust.ErrNotFound) {
					return errors.New("no policy is stored: apply one first")
				}
				if err != nil {
					return err
				}
				p, err := agenttrust.ParsePolicy(doc.Body, doc.Format)
				if err != nil {
					return err
				}
				key, cur, err := appliedMode(p.ToolModes, tool)
				if err != nil {
					return err
				}
				if mode == "" {
					text := fmt.Sprintf("%s: %s", tool, modeOrNone(cur))
					if key != tool && key != "" {
						text += fmt.Sprintf(" (by tool_modes[%q])", key)
					}
					return o.done(text, map[string]any{"tool": tool, "mode": cur, "key": key, "version": doc.Version})
				}
				if key != tool && key != "" && mode != "clear" && strictness[mode] < strictness[cur] {
					// Its own entry would beat the glob's: the tool would
					// get a looser mode than the one the operator sees.
					return fmt.Errorf("%s is %s by tool_modes[%q], and an entry of its own would take precedence and make it %s: to loosen it on purpose, edit the policy and apply it", tool, cur, key, mode)
				}
				if k := outranked(p.ToolModes, tool, mode); k != "" {
					return fmt.Errorf("%s would take precedence over tool_modes[%q], %s, for the tools both match, and make them %s: to loosen them on purpose, edit the policy and apply it", tool, k, p.ToolModes[k], mode)
				}
				body, err := setToolMode(doc.Body, doc.Format, tool, mode)
				if err != nil {
					return err
				}
				v, err := rc.ApplyPolicy(ctx, body, doc.Format, doc.Version)
				if err != nil {
					return err
				}
				return o.done(fmt.Sprintf("tool mode of %s: %s (policy version %d)", tool, mode, v),
					map[string]any{"tool": tool, "mode": mode, "version": v})
			}
		},
	}
}

// strictness orders the modes: a higher one lets fewer calls through.
var strictness = map[string]int{"auto": 1, "ask": 2, "deny": 3}

// appliedMode returns the tool mode that applies to tool, a name, and
// the key of tool_modes it comes from ("" for none), as the engine picks
// it (its exact name, then the longest glob, then the stricter mode):
// read off the rule a policy of only those modes names. A glob is its
// own entry.
func appliedMode(modes map[string]string, tool string) (key, mode string, err error) {
	if strings.Contains(tool, "*") {
		return tool, modes[tool], nil
	}
	// A mode changes only some effects: "auto" a needs_approval, "ask"
	// an allow, "deny" any. One of the two defaults shows each.
	for _, def := range [...]agenttrust.Effect{agenttrust.Allow, agenttrust.NeedsApproval} {
		e, err := agenttrust.NewRuleEngine(&agenttrust.Policy{Default: def, Rules: []agenttrust.Rule{}, ToolModes: modes})
		if err != nil {
			return "", "", err
		}
		res, err := e.Evaluate(context.Background(), &agenttrust.PolicyInput{Tool: tool})
		if err != nil {
			return "", "", err
		}
		if k, ok := strings.CutPrefix(res.Rule, "tool_mode:"); ok {
			return k, modes[k], nil
		}
	}
	return "", "", nil
}

// outranked returns a glob of modes, stricter than mode, that the glob
// tool set to mode would take precedence over (being longer) for some
// tool both may match; "" when there is none, or tool is a name (see
// appliedMode) or mode is "clear".
func outranked(modes map[string]string, tool, mode string) string {
	if !strings.Contains(tool, "*") || mode == "clear" {
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(modes)) {
		if k != tool && strings.Contains(k, "*") && len(k) < len(tool) &&
			strictness[mode] < strictness[modes[k]] && mayOverlap(k, tool) {
			return k
		}
	}
	return ""
}

// mayOverlap reports whether globs a and b may match one name. Each '*'
// is taken for any run of characters, which only widens what a glob
// matches, so an overlap is never missed.
func mayOverlap(a, b string) bool {
	memo := map[[2]int]bool{}
	var f func(i, j int) bool
	f = func(i, j int) bool {
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(a) && j == len(b):
			r = true
		case i < len(a) && a[i] == '*':
			r = f(i+1, j) || j < len(b) && f(i, j+1)
		case j < len(b) && b[j] == '*':
			r = f(i, j+1) || i < len(a) && f(i+1, j)
		case i == len(a) || j == len(b):
			r = false
		default:
			r = a[i] == b[j] && f(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	return f(0, 0)
}

func modeOrNone(mode string) string {
	if mode == "" {
		return "none (the rules decide)"
	}
	return mode
}

// setToolMode returns the policy document body with tool_modes[tool] set
// to mode, or removed for "clear". A YAML document is edited as a node
// tree, so its comments and the order of its keys survive.
func setToolMode(body []byte, format, tool, mode string) ([]byte, error) {
	switch format {
	case "yaml", "yml":
		var root yaml.Node
		if err := yaml.Unmarshal(body, &root); err != nil {
			return nil, fmt.Errorf("stored policy: %w", err)
		}
		if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
			return nil, errors.New("stored policy: not a YAML mapping")
		}
		top := root.Content[0]
		modes := mappingValue(top, "tool_modes")
		if modes == nil {
			if mode == "clear" {
				return body, nil
			}
			modes = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "tool_modes"}, modes)
		}
		if modes.Kind != yaml.MappingNode {
			return nil, errors.New("stored policy: tool_modes is not a mapping")
		}
		modes.Style = 0 // block style, one entry a line
		for i := 0; i+1 < len(modes.Content); i += 2 {
			if modes.Content[i].Value == tool {
				if mode == "clear" {
					modes.Content = append(modes.Content[:i], modes.Content[i+2:]...)
				} else {
					modes.Content[i+1].Value = mode
				}
				return encodeYAML(&root)
			}
		}
		if mode != "clear" {
			modes.Content = append(modes.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: tool},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: mode})
		}
		return encodeYAML(&root)
	case "json":
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, fmt.Errorf("stored policy: %w", err)
		}
		modes := map[string]string{}
		if raw, ok := doc["tool_modes"]; ok {
			if err := json.Unmarshal(raw, &modes); err != nil {
				return nil, fmt.Errorf("stored policy: tool_modes: %w", err)
			}
		}
		if mode == "clear" {
			delete(modes, tool)
		} else {
			modes[tool] = mode
		}
		if len(modes) == 0 {
			delete(doc, "tool_modes")
		} else {
			raw, err := json.Marshal(modes)
			if err != nil {
				return nil, err
			}
			doc["tool_modes"] = raw
		}
		out, err := json.MarshalIndent(doc, "", "  ")
		return append(out, '\n'), err
	}
	return nil, fmt.Errorf("stored policy: unknown format %q", format)
}

// mappingValue returns the value of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func encodeYAML(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
