package agenttrust

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
)

// Tool modes (Policy.ToolModes) and the bound on a rule's approval
// timeout.
const (
	modeAuto = "auto"
	modeAsk  = "ask"
	modeDeny = "deny"

	maxToolModes       = 1000
	maxApprovalTimeout = 24 * time.Hour

	reasonModeDeny = "tool mode is deny"
	reasonModeAsk  = "tool mode is ask: needs approval"
	reasonModeAuto = "tool mode is auto: allowed without approval"
)

// toolMode is one compiled Policy.ToolModes entry.
type toolMode struct {
	key   string // as written: the decision's rule is "tool_mode:" + key
	rule  string
	exact bool
	pat   cond.Pattern
	mode  string
}

// compileModes validates the tool modes and orders them best match
// first: exact names, then longer globs, then stricter modes, then by
// key, so the first that matches a tool is the one that applies.
func compileModes(m map[string]string) ([]toolMode, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if len(m) > maxToolModes {
		return nil, fmt.Errorf("tool_modes: more than %d entries", maxToolModes)
	}
	var problems []string
	out := make([]toolMode, 0, len(m))
	for key, mode := range m {
		switch mode {
		case modeAuto, modeAsk, modeDeny:
		default:
			problems = append(problems, fmt.Sprintf("tool_modes[%q]: mode %q: want auto, ask or deny", key, mode))
			continue
		}
		pat, err := cond.ParseNamePattern(key)
		if err != nil {
			problems = append(problems, fmt.Sprintf("tool_modes[%q]: %v", key, err))
			continue
		}
		rule := "tool_mode:" + key
		if len(rule) > 128 {
			problems = append(problems, fmt.Sprintf("tool_modes[%q]: a key is a tool name or glob of at most 118 characters", key))
			continue
		}
		out = append(out, toolMode{key: key, rule: rule, exact: !strings.Contains(key, "*"), pat: pat, mode: mode})
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	strictness := map[string]int{modeDeny: 3, modeAsk: 2, modeAuto: 1}
	slices.SortFunc(out, func(a, b toolMode) int {
		if a.exact != b.exact {
			if a.exact {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(len(b.key), len(a.key)); c != 0 {
			return c
		}
		if c := cmp.Compare(strictness[b.mode], strictness[a.mode]); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return out, nil
}

// applyMode applies the tool's mode, if any, to the rules' result.
func applyMode(modes []toolMode, tool string, res PolicyResult) PolicyResult {
	for i := range modes {
		m := &modes[i]
		if !m.pat.Match(tool) {
			continue
		}
		switch {
		case m.mode == modeDeny:
			return PolicyResult{Effect: Deny, Rule: m.rule, Reason: reasonModeDeny}
		case m.mode == modeAsk && res.Effect == Allow:
			return PolicyResult{Effect: NeedsApproval, Rule: m.rule, Reason: reasonModeAsk}
		case m.mode == modeAuto && res.Effect == NeedsApproval:
			return PolicyResult{Effect: Allow, Rule: m.rule, Reason: reasonModeAuto}
		}
		return res
	}
	return res
}
