package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	"github.com/agenttrust/agenttrust/cmd/agenttrust/internal/cli"
	"github.com/agenttrust/agenttrust/remote"
)

func policyCommand() *command {
	return &command{
		name:    "policy",
		summary: "Validate, apply and show the tenant's policy; replay, shadow and narrow it; set tool modes",
		subs: []*command{policyValidateCommand(), policyApplyCommand(), policyShowCommand(), policyModeCommand(),
			policyReplayCommand(), policyShadowCommand(), policyAdviseCommand()},
	}
}

// policyFile reads a policy document; "-" is stdin, whose format must
// then be given.
func policyFile(e *env, path, format string) (body []byte, _ string, err error) {
	if format == "" {
		if path == "-" {
			return nil, "", usagef("reading the policy from stdin needs --format json, yaml or cedar")
		}
		if format, err = cli.PolicyFormat(path); err != nil {
			return nil, "", usagef("%v (or give --format)", err)
		}
	}
	switch format {
	case "json", "yaml", "yml", "cedar":
	default:
		return nil, "", usagef("--format: want json, yaml or cedar")
	}
	if path == "-" {
		body, err = io.ReadAll(io.LimitReader(e.stdin, agenttrust.MaxPolicySize+1))
	} else {
		body, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read policy: %w", err)
	}
	if len(body) > agenttrust.MaxPolicySize {
		return nil, "", fmt.Errorf("policy larger than %d bytes", agenttrust.MaxPolicySize)
	}
	return body, format, nil
}

// reportPolicyProblems prints every problem of an invalid policy, one per
// line, and returns a failure.
func reportPolicyProblems(e *env, path string, err error) error {
	if !errors.Is(err, agenttrust.ErrInvalidPolicy) {
		return err
	}
	fmt.Fprintf(e.stderr, "agenttrust: policy %s is invalid:\n", path)
	var joined interface{ Unwrap() []error }
	var re *remote.Error
	if errors.As(err, &re) {
		// Its Unwrap holds the sentinel it matches, not the problems.
		fmt.Fprintf(e.stderr, "  %s\n", describe(re))
	} else if errors.As(err, &joined) {
		for _, p := range joined.Unwrap() {
			fmt.Fprintf(e.stderr, "  %s\n", describe(p))
		}
	} else {
		fmt.Fprintf(e.stderr, "  %s\n", describe(err))
	}
	return &exitError{code: exitFailure}
}

func policyValidateCommand() *command {
	return &command{
		name:    "validate",
		args:    "FILE|-",
		summary: "Check a policy document, on the server or --offline",
		help: `Check a policy document (JSON or YAML, told by the file name or --format):
on the server, which answers whether it would accept it, or with --offline
locally, with no server. A Cedar policy set (.cedar, for serve --policy) is
always checked locally. Every problem is printed; the exit code is 1 when
there is one.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var format string
			var offline bool
			f.StringVar(&format, "format", "", "the document's `FORMAT`, json, yaml or cedar (default: by the file name)")
			f.BoolVar(&offline, "offline", false, "validate locally, without asking the server")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 1, "a policy file (or - for stdin)"); err != nil {
					return err
				}
				body, format, err := policyFile(e, args[0], format)
				if err != nil {
					return err
				}
				switch {
				case format == "cedar":
					_, err = cedar.Parse(args[0], body)
				case offline:
					_, err = agenttrust.ParsePolicy(body, format)
				default:
					rc, cerr := c.client(e)
					if cerr != nil {
						return cerr
					}
					defer rc.Close()
					err = rc.ValidatePolicy(ctx, body, format)
				}
				if err != nil {
					if o.json && errors.Is(err, agenttrust.ErrInvalidPolicy) {
						o.printJSON(map[string]any{"valid": false, "error": err.Error()})
					}
					return reportPolicyProblems(e, args[0], err)
				}
				if o.json {
					return o.printJSON(map[string]any{"valid": true})
				}
				_, err = fmt.Fprintf(o.w, "policy %s is valid\n", args[0])
				return err
			}
		},
	}
}

func policyApplyCommand() *command {
	return &command{
		name:    "apply",
		args:    "FILE|-",
		summary: "Store a policy document as the tenant's policy and make it live (admin)",
		help: `Store a policy document as the tenant's policy and make it live. The change
is a compare-and-set on the stored version: by default the version read just
before, or --expect-version (0 when none is stored yet); a concurrent change
makes it fail rather than be overwritten. An invalid document changes
nothing.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var format string
			var expect int64
			f.StringVar(&format, "format", "", "the document's `FORMAT`, json or yaml (default: by the file name)")
			f.Int64Var(&expect, "expect-version", -1, "the stored `VERSION` to replace (0: none); default the current one")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 1, "a policy file (or - for stdin)"); err != nil {
					return err
				}
				body, format, err := policyFile(e, args[0], format)
				if err != nil {
					return err
				}
				if format == "cedar" {
					return usagef("a Cedar policy is not stored on the server: serve it with agenttrust serve --policy FILE.cedar")
				}
				if expect < -1 {
					return usagef("--expect-version must not be negative")
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				if expect == -1 {
					doc, err := rc.Policy(ctx)
					switch {
					case errors.Is(err, agenttrust.ErrNotFound):
						expect = 0
					case err != nil:
						return err
					default:
						expect = doc.Version
					}
				}
				v, err := rc.ApplyPolicy(ctx, body, format, expect)
				if errors.Is(err, agenttrust.ErrInvalidPolicy) {
					// The refusal holds one line; validation lists every
					// problem, as "policy validate" prints them.
					if verr := rc.ValidatePolicy(ctx, body, format); errors.Is(verr, agenttrust.ErrInvalidPolicy) {
						err = verr
					}
				}
				if err != nil {
					return reportPolicyProblems(e, args[0], err)
				}
				return o.done(fmt.Sprintf("applied policy %s as version %d", args[0], v), map[string]any{"version": v})
			}
		},
	}
}

func policyShowCommand() *command {
	return &command{
		name:    "show",
		summary: "Print the tenant's stored policy document (admin, approver)",
		help: `Print the tenant's stored policy document as stored, so that
"agenttrust policy show > policy.yaml" saves it; the version goes to stderr.
--json prints the version, format, body and time of the change. A document
holding a control or format character other than tab and newline (the CR of
Windows line ends included) is printed only with --json, which escapes it.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 0, "")
				if err != nil {
					return err
				}
				defer rc.Close()
				doc, err := rc.Policy(ctx)
				if errors.Is(err, agenttrust.ErrNotFound) {
					return errors.New("no policy is stored: every action is denied")
				}
				if err != nil {
					return err
				}
				if o.json {
					return o.printJSON(struct {
						Version   int64     `json:"version"`
						Format    string    `json:"format"`
						Body      string    `json:"body"`
						UpdatedAt time.Time `json:"updated_at"`
					}{doc.Version, doc.Format, string(doc.Body), doc.UpdatedAt.UTC()})
				}
				if len(escapeTerm(doc.Body)) != len(doc.Body) {
					// Escaped, it would no longer be the stored document.
					return errors.New("the stored policy holds control or format characters, which are not printed raw; --json shows it with them escaped")
				}
				fmt.Fprintf(e.stderr, "# policy version %d (%s), updated %s\n", doc.Version, doc.Format, fmtTime(doc.UpdatedAt))
				_, err = o.w.Write(doc.Body)
				return err
			}
		},
	}
}
