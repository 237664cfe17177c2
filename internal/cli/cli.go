// Package cli is ocipack's command line: one file per command, each an
// adapter that parses its flags, makes one call into the library packages
// (layout, pack, unpack, archive, transfer, source) and prints the result.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/source"
)

// version is set at build time with
// -ldflags "-X github.com/ocipack/ocipack/internal/cli.version=…".
var version = "dev"

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand.
type command struct {
	name     string
	args     string // the synopsis after the name
	nargs    argCount
	summary  string
	examples string
	setup    func(fs *pflag.FlagSet) func(ctx context.Context, env *env, args []string) error
}

// argCount is how many arguments a command takes, checked before it runs.
// The zero value checks nothing: the command checks them itself.
type argCount struct {
	min, max int    // max < 0: no upper bound
	need     string // the usage error for another number
}

// exactly is n arguments, else the usage error need.
func exactly(n int, need string) argCount { return argCount{n, n, need} }

// atLeast is n arguments or more, else the usage error need.
func atLeast(n int, need string) argCount { return argCount{n, -1, need} }

// check returns the usage error when args are too few or too many.
func (a argCount) check(args []string) error {
	if a.need != "" && (len(args) < a.min || a.max >= 0 && len(args) > a.max) {
		return usageError{a.need}
	}
	return nil
}

// env is what a command writes to.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// progress is true when stderr is a terminal and --quiet was not given.
	progress bool
	// quiet is --quiet.
	quiet bool
}

func commands() []command {
	return []command{packCommand(), unpackCommand(), lsCommand(), pushCommand(), pullCommand(), copyCommand(), tagsCommand(), syncCommand(), loginCommand(), logoutCommand(), exportCommand(), importCommand(), verifyCommand(), keyCommand(), signCommand(), gcCommand(), inspectCommand(), tagCommand(), rmCommand(), serveCommand()}
}

// Main runs the command line of the process (os.Args, the standard
// streams; an interrupt cancels the command) and returns its exit status.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// Run runs the command line args (without the program name), reading stdin
// and writing stdout and stderr, and returns the exit status: 0 on success,
// 1 on failure, 2 on a usage error. Cancelling ctx interrupts the command.
// A progress line is drawn only when stderr is a terminal *os.File.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return Run(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
		}
		printUsage(stdout)
		return 0
	case "-v", "--version", "version":
		fmt.Fprintf(stdout, "ocipack %s\n", version)
		return 0
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "ocipack: unknown command %q; run 'ocipack --help' for the list\n", args[0])
		return 2
	}
	fs := pflag.NewFlagSet("ocipack "+cmd.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	quiet := fs.BoolP("quiet", "q", false, "print no progress")
	help := fs.BoolP("help", "h", false, "show this help")
	runFn := cmd.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(stderr, "ocipack %s: %v; run 'ocipack %s --help'\n", cmd.name, err, cmd.name)
		return 2
	}
	if *help {
		printCommandHelp(stdout, cmd, fs)
		return 0
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, quiet: *quiet}
	if f, ok := stderr.(*os.File); ok && !*quiet {
		e.progress = isTerminal(f)
	}
	err := cmd.nargs.check(fs.Args())
	if err == nil {
		err = runFn(ctx, e, fs.Args())
	}
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "ocipack %s: %s; run 'ocipack %s --help'\n", cmd.name, ue.msg, cmd.name)
		return 2
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "ocipack %s: interrupted; nothing was left half written\n", cmd.name)
		return 1
	}
	fmt.Fprintf(stderr, "ocipack %s: %s\n", cmd.name, oneLine(err.Error()))
	return 1
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, `ocipack packs files and directories into an OCI image layout, carries it
across an air gap or into any OCI registry, and unpacks it safely.

Usage:
  ocipack COMMAND [ARGS] [FLAGS]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
A layout reference is PATH, PATH:TAG, PATH:NAME or PATH@sha256:HEX, where
NAME is an entry's full name (./bundle:docker.io/library/nginx:1.27), as
'pull' without a LAYOUT:TAG, and 'import' of a 'docker save' archive, name
entries. When a full name follows a ':', PATH is the longest prefix that
exists as a directory, else everything before the first such ':'. A plain
tag also finds the one full name with that tag.

Flags:
  -h, --help      show help ('ocipack COMMAND --help' for a command's flags)
  -v, --version   print the version

Exit status: 0 on success, 1 on failure, 2 on a usage error.
`)
}

func printCommandHelp(w io.Writer, c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  ocipack %s %s\n\nFlags:\n%s", c.summary, c.name, c.args, flagUsages(fs))
	if c.examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s", c.examples)
	}
}

// flagUsages is fs.FlagUsages, with boolean flags listed as --json rather
// than --json[=true|false]: pflag (v1.1) appends that to every flag whose
// value says IsBoolFlag, so the flags are listed through a copy whose
// boolean values do not say it.
func flagUsages(fs *pflag.FlagSet) string {
	shown := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	shown.SortFlags = fs.SortFlags
	fs.VisitAll(func(f *pflag.Flag) {
		g := *f
		if f.Value.Type() == "bool" {
			g.Value = plainBool{f.Value}
		}
		shown.AddFlag(&g)
	})
	return shown.FlagUsages()
}

// plainBool is a boolean flag's value as flagUsages lists it.
type plainBool struct{ pflag.Value }

func (plainBool) IsBoolFlag() bool { return false }

func isTerminal(f *os.File) bool { return progress.IsTerminal(f) }

func readPassword(f *os.File) ([]byte, error) { return term.ReadPassword(int(f.Fd())) }

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// openLayoutRef parses a layout reference and opens the layout, which must
// exist.
func openLayoutRef(ctx context.Context, s string) (*layout.Layout, layout.Reference, error) {
	ref, err := layout.ParseReference(s)
	if err != nil {
		return nil, ref, usagef("%v", err)
	}
	if source.IsArchive(ref.Path) {
		// Archives are read in place but never changed: a tag, a
		// removal or a signature goes into a layout.
		return nil, ref, fmt.Errorf("%s is an archive, which ocipack reads but never changes: import it into a layout first (ocipack import %s DIR), work there, and export again", ref.Path, ref.Path)
	}
	l, err := layout.Open(ctx, ref.Path)
	if err != nil {
		return nil, ref, err
	}
	return l, ref, nil
}

// openSource parses a reference and opens the layout or archive it names.
func openSource(ctx context.Context, s string) (*source.Source, layout.Reference, error) {
	ref, err := layout.ParseReference(s)
	if err != nil {
		return nil, ref, usagef("%v", err)
	}
	src, err := source.Open(ctx, ref.Path)
	return src, ref, err
}

// chooseRef returns the reference's tag or digest, or the source's only
// tag; naming none of several tags is a usage error.
func chooseRef(ctx context.Context, src *source.Source, ref layout.Reference) (string, error) {
	r, err := src.Ref(ctx, ref.Ref())
	var amb *source.AmbiguousError
	if errors.As(err, &amb) {
		return "", usageError{amb.Error()}
	}
	return r, err
}
