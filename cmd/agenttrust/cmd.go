package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/agenttrust/agenttrust/remote"
)

// Exit codes.
const (
	exitOK            = 0
	exitFailure       = 1
	exitUsage         = 2
	exitDenied        = 3 // check: the action is denied
	exitNeedsApproval = 4 // check: the action waits for an approval
)

// env is what a command sees of the process: its streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// buildInfo reads the binary's build information (debug.ReadBuildInfo).
	buildInfo func() (*debug.BuildInfo, bool)
}

// runFunc runs a command with its positional arguments, once its flags
// are parsed.
type runFunc func(ctx context.Context, args []string) error

// command is a node of the command tree: a group with subcommands, or a
// leaf whose setup defines its flags and returns what runs it.
type command struct {
	name    string
	args    string // synopsis of the positional arguments, such as "ID"
	summary string // one line, for the parent's list
	help    string // paragraphs shown by --help
	subs    []*command
	setup   func(e *env, f *flags) runFunc
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitError ends a command with a code other than 0 or 1; msg, when not
// empty, goes to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run runs the command line args with e's stdout and stderr behind a
// termWriter each, so that nothing a command prints reaches them with a
// raw control or format character (SECURITY.md §13), and returns the exit
// code.
func (e *env) run(ctx context.Context, args []string) int {
	stdout, stderr := newTermWriter(e.stdout), newTermWriter(e.stderr)
	defer stdout.Flush()
	defer stderr.Flush()
	e.stdout, e.stderr = stdout, stderr
	return e.dispatch(ctx, commands(), []string{"agenttrust"}, args)
}

// dispatch walks the tree along args and runs the command it names.
func (e *env) dispatch(ctx context.Context, c *command, path []string, args []string) int {
	if c.subs != nil {
		if len(args) == 0 {
			e.groupHelp(e.stderr, c, path)
			return exitUsage
		}
		switch a := args[0]; a {
		case "-h", "-help", "--help":
			e.groupHelp(e.stdout, c, path)
			return exitOK
		case "-version", "--version":
			if len(path) == 1 {
				return e.dispatch(ctx, c, path, append([]string{"version"}, args[1:]...))
			}
		case "help":
			if len(args) == 1 {
				e.groupHelp(e.stdout, c, path)
				return exitOK
			}
			// "help key create" is "key create --help".
			return e.dispatch(ctx, c, path, append(append([]string{}, args[1:]...), "--help"))
		}
		for _, sub := range c.subs {
			if sub.name == args[0] {
				return e.dispatch(ctx, sub, append(path, sub.name), args[1:])
			}
		}
		if strings.HasPrefix(args[0], "-") {
			if moved, ok := flagsAfterCommand(c, args); ok {
				return e.dispatch(ctx, c, path, moved)
			}
			given := shown(args[0])
			fmt.Fprintf(e.stderr, "agenttrust: flag %s before a command: flags go after the command, as in '%s <command> %s ...'\nRun '%s --help' for usage.\n",
				given, strings.Join(path, " "), given, strings.Join(path, " "))
			return exitUsage
		}
		fmt.Fprintf(e.stderr, "agenttrust: unknown command %q\nRun '%s --help' for usage.\n", shown(strings.Join(append(path, args[0]), " ")), strings.Join(path, " "))
		return exitUsage
	}

	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f := &flags{FlagSet: fs, env: map[string]string{}}
	run := c.setup(e, f)
	restore, repeated := oneValueFlags(fs)
	pos, err := parseInterleaved(fs, args)
	restore()
	if name := repeated(); name != "" {
		// Not the flag package's error, which quotes the value: a
		// database URL or a webhook URL holds a secret.
		err = fmt.Errorf("--%s given twice: it takes one value", name)
	}
	if errors.Is(err, flag.ErrHelp) {
		e.leafHelp(e.stdout, c, path, f)
		return exitOK
	}
	if err == nil {
		err = f.applyEnv(e.getenv)
	}
	if err == nil {
		err = f.checkRequired()
	}
	if err != nil {
		err = &usageError{err.Error()}
	} else {
		err = run(ctx, pos)
	}
	return e.exit(err, path)
}

// flagsAfterCommand moves flags given before a command after it, so that
// "agenttrust --server URL check --tool t" is "agenttrust check --tool t
// --server URL": every command defines the flags it takes, the connection
// flags included. The command is the first argument that names one of
// c's subcommands; the flags before it (with their values) go after the
// rest of the arguments, before a "--" if there is one. ok is false when
// no argument names a subcommand.
func flagsAfterCommand(c *command, args []string) (moved []string, ok bool) {
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		for _, sub := range c.subs {
			if sub.name != a {
				continue
			}
			rest := args[i+1:]
			end := slices.Index(rest, "--")
			if end < 0 {
				end = len(rest)
			}
			moved = make([]string, 0, len(args))
			moved = append(moved, a)
			moved = append(moved, rest[:end]...)
			moved = append(moved, args[:i]...)
			return append(moved, rest[end:]...), true
		}
	}
	return nil, false
}

// exit reports err on stderr and returns the exit code it calls for.
// Messages quote what was given (an argument, a flag's or variable's
// value), which may be a credential or a database password put in the
// wrong place: each passes shown, as stderr is often a log.
func (e *env) exit(err error, path []string) int {
	var ue *usageError
	var xe *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "agenttrust: %s\nRun '%s --help' for usage.\n", shown(ue.msg), strings.Join(path, " "))
		return exitUsage
	case errors.As(err, &xe):
		if xe.msg != "" {
			fmt.Fprintf(e.stderr, "agenttrust: %s\n", plain(shown(xe.msg)))
		}
		return xe.code
	}
	fmt.Fprintf(e.stderr, "agenttrust: %s: %s\n", strings.Join(path[1:], " "), plain(shown(describe(err))))
	return exitFailure
}

// describe says what went wrong, shortening the errors of the server to
// their message and code. No error carries a credential: package remote
// never puts one in its errors, and this command never does either.
func describe(err error) string {
	var re *remote.Error
	if errors.As(err, &re) {
		msg := strings.TrimPrefix(re.Message, "agenttrust: ")
		req := ""
		if re.RequestID != "" {
			// The server's log names the request by this id.
			req = ", request " + re.RequestID
		}
		switch {
		case re.Status == 0:
			return "no answer from the server: " + msg
		case re.Code == "":
			return fmt.Sprintf("%s (HTTP %d%s)", msg, re.Status, req)
		}
		return fmt.Sprintf("%s (%s, HTTP %d%s)", msg, re.Code, re.Status, req)
	}
	// The command's own prefix says it already.
	return strings.TrimPrefix(err.Error(), "agenttrust: ")
}

// parseInterleaved parses fs from args, allowing flags after positional
// arguments ("key revoke key_1 --json"). Everything after "--" is
// positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// oneValueFlags makes each flag of fs that holds one value refuse a
// second occurrence while the command line is parsed, and returns what
// undoes it. The last would silently win, so a value pinned first
// ("--ttl 5m", "--server https://prod"), by a wrapper or an earlier line
// of a runbook, would be widened by one given after it. Repeatable flags
// (stringList, prefixList) add, as their help says. repeated names the
// flag given twice, if any.
func oneValueFlags(fs *flag.FlagSet) (restore func(), repeated func() string) {
	orig := map[*flag.Flag]flag.Value{}
	twice := new(string)
	fs.VisitAll(func(fl *flag.Flag) {
		if _, list := fl.Value.(interface{ repeatable() }); list {
			return
		}
		orig[fl] = fl.Value
		o := &onceValue{Value: fl.Value, name: fl.Name, twice: twice}
		if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			fl.Value = onceBool{o}
		} else {
			fl.Value = o
		}
	})
	restore = func() {
		for fl, v := range orig {
			fl.Value = v
		}
	}
	repeated = func() string { return *twice }
	return restore, repeated
}

// onceValue is a flag value that may be set once. A second value is
// refused, and the flag's name kept in twice.
type onceValue struct {
	flag.Value
	name  string
	set   bool
	twice *string
}

func (o *onceValue) Set(s string) error {
	if o.set {
		if *o.twice == "" {
			*o.twice = o.name
		}
		return fmt.Errorf("--%s given twice: it takes one value", o.name)
	}
	o.set = true
	return o.Value.Set(s)
}

// onceBool is a onceValue of a boolean flag, which takes no value.
type onceBool struct{ *onceValue }

func (onceBool) IsBoolFlag() bool { return true }

// wantArgs checks the number of positional arguments.
func wantArgs(args []string, n int, names string) error {
	if len(args) != n {
		if n == 0 {
			return usagef("unexpected argument %q", args[0])
		}
		return usagef("want %s, got %d arguments", names, len(args))
	}
	return nil
}

// flags is a command's flag set, with the environment variables that may
// stand in for flags and the flags that are required.
type flags struct {
	*flag.FlagSet
	env      map[string]string // flag name -> environment variable
	required []string
}

// envVar lets AGENTTRUST_<NAME> stand in for each named flag when the
// flag is not on the command line (names upper-cased, '-' as '_').
func (f *flags) envVar(names ...string) {
	for _, n := range names {
		if f.Lookup(n) == nil {
			panic("agenttrust: envVar of undefined flag " + n) // a bug in this file's callers
		}
		f.env[n] = envName(n)
	}
}

func envName(flagName string) string {
	return "AGENTTRUST_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// require marks flags that must be given (on the command line or through
// the environment).
func (f *flags) require(names ...string) { f.required = append(f.required, names...) }

// isSet reports whether the flag was given on the command line.
func (f *flags) isSet(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) {
		if fl.Name == name {
			set = true
		}
	})
	return set
}

func (f *flags) applyEnv(getenv func(string) string) error {
	names := make([]string, 0, len(f.env))
	for n := range f.env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if f.isSet(n) {
			continue
		}
		v := getenv(f.env[n])
		if v == "" {
			continue
		}
		if err := f.Set(n, v); err != nil {
			return fmt.Errorf("invalid %s: %v", f.env[n], err)
		}
	}
	return nil
}

func (f *flags) checkRequired() error {
	for _, n := range f.required {
		if f.Lookup(n).Value.String() == "" {
			if ev, ok := f.env[n]; ok {
				return fmt.Errorf("--%s (or %s) is required", n, ev)
			}
			return fmt.Errorf("--%s is required", n)
		}
	}
	return nil
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

func (l *stringList) repeatable() {}

// groupHelp prints the help of a command with subcommands.
func (e *env) groupHelp(w io.Writer, c *command, path []string) {
	name := strings.Join(path, " ")
	fmt.Fprintf(w, "Usage: %s <command> [flags] [arguments]\n\n", name)
	if c.help != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(c.help))
	} else if c.summary != "" {
		fmt.Fprintf(w, "%s.\n\n", c.summary)
	}
	fmt.Fprintln(w, "Commands:")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, sub := range c.subs {
		fmt.Fprintf(tw, "  %s\t%s\n", sub.name, sub.summary)
	}
	tw.Flush()
	if len(path) == 1 {
		fmt.Fprint(w, exitCodesHelp)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", name)
}

const exitCodesHelp = `
Exit codes:
  0   success; for check: the action is allowed
  1   failure (the server could not be reached or refused the request, a file could not be read, ...)
  2   usage error (unknown command or flag, missing argument)
  3   check: the action is denied
  4   check: the action needs an approval
`

// leafHelp prints the help of a command that runs.
func (e *env) leafHelp(w io.Writer, c *command, path []string, f *flags) {
	synopsis := strings.Join(path, " ") + " [flags]"
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n", synopsis)
	if c.help != "" {
		fmt.Fprintf(w, "%s\n", strings.TrimSpace(c.help))
	} else {
		fmt.Fprintf(w, "%s.\n", c.summary)
	}
	fmt.Fprintln(w, "\nFlags:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	f.VisitAll(func(fl *flag.Flag) {
		arg, usage := flag.UnquoteUsage(fl)
		left := "  --" + fl.Name
		if len(fl.Name) == 1 {
			left = "  -" + fl.Name
		}
		if arg != "" {
			left += " " + arg
		}
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.DefValue != "0s" {
			usage += " (default " + fl.DefValue + ")"
		}
		if ev, ok := f.env[fl.Name]; ok {
			usage += " [env " + ev + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\n", left, usage)
	})
	fmt.Fprintf(tw, "  --help\tshow this help\n")
	tw.Flush()
}
