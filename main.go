// Command ocipack packs files and directories into an OCI image layout,
// moves the layout across an air gap or into a registry, and unpacks it on
// the target machine.
//
// This file is the command line only: it parses flags, calls the packages
// and prints their results. The work lives in layout, pack and unpack.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/unpack"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand.
type command struct {
	name     string
	args     string // the synopsis after the name
	summary  string
	examples string
	setup    func(fs *pflag.FlagSet) func(ctx context.Context, env *env, args []string) error
}

// env is what a command writes to.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// progress is true when stderr is a terminal and --quiet was not given.
	progress bool
}

func commands() []command {
	return []command{packCommand(), unpackCommand(), lsCommand()}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status: 0 on success,
// 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return run(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
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
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if f, ok := stderr.(*os.File); ok && !*quiet {
		e.progress = isTerminal(f)
	}
	err := runFn(ctx, e, fs.Args())
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
A layout reference is PATH, PATH:TAG or PATH@sha256:HEX.

Flags:
  -h, --help      show help ('ocipack COMMAND --help' for a command's flags)
  -v, --version   print the version

Exit status: 0 on success, 1 on failure, 2 on a usage error.
`)
}

func printCommandHelp(w io.Writer, c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  ocipack %s %s\n\nFlags:\n%s", c.summary, c.name, c.args, fs.FlagUsages())
	if c.examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s", c.examples)
	}
}

func isTerminal(f *os.File) bool { return progress.IsTerminal(f) }

// openLayoutRef parses a layout reference and opens the layout, which must
// exist.
func openLayoutRef(ctx context.Context, s string) (*layout.Layout, layout.Reference, error) {
	ref, err := layout.ParseReference(s)
	if err != nil {
		return nil, ref, usagef("%v", err)
	}
	l, err := layout.Open(ctx, ref.Path)
	if err != nil {
		return nil, ref, err
	}
	return l, ref, nil
}

func packCommand() command {
	return command{
		name:    "pack",
		args:    "LAYOUT:TAG PATH[:MEDIATYPE]... [flags]",
		summary: "Pack files and directories into a layout as one tagged artifact",
		examples: `  # a Helm chart and a directory of manifests, as v1.2.0
  ocipack pack ./bundle:v1.2.0 mychart-1.2.0.tgz:application/vnd.cncf.helm.chart.content.v1.tar+gzip ./k8s

  # reproducible: the same digest on any machine
  SOURCE_DATE_EPOCH=1700000000 ocipack pack ./bundle:v1 ./deploy --compression zstd

  # with an artifact type and annotations
  ocipack pack ./bundle:v1 app.tar --artifact-type application/vnd.example.app.v1 \
      --annotation org.opencontainers.image.source=https://example.com/app
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			artifactType := fs.String("artifact-type", pack.DefaultArtifactType, "the manifest's artifactType")
			annotations := fs.StringArrayP("annotation", "a", nil, "manifest annotation `KEY=VALUE` (repeatable)")
			config := fs.String("config", "", "store `FILE[:MEDIATYPE]` as the manifest's config (default: the empty config)")
			compression := fs.String("compression", "gzip", "compression of directory archives: gzip, zstd or none")
			keepMtime := fs.Bool("keep-mtime", false, "keep files' mtimes in directory archives (no longer reproducible)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) < 2 {
					return usagef("need a LAYOUT:TAG and at least one PATH")
				}
				ref, err := layout.ParseReference(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				if ref.Tag == "" {
					return usagef("%q names no tag: write LAYOUT:TAG, for example ./bundle:v1", args[0])
				}
				comp, err := pack.ParseCompression(*compression)
				if err != nil {
					return usagef("--compression: %v", err)
				}
				opts := pack.Options{ArtifactType: *artifactType, Compression: comp, KeepMtime: *keepMtime, Annotations: map[string]string{}}
				for _, a := range *annotations {
					k, v, ok := strings.Cut(a, "=")
					if !ok || k == "" {
						return usagef("--annotation %q: write KEY=VALUE", a)
					}
					opts.Annotations[k] = v
				}
				if *config != "" {
					in := pack.ParseInput(*config)
					opts.Config = &in
				}
				if opts.SourceDateEpoch, err = pack.SourceDateEpochFromEnv(); err != nil {
					return usagef("%v", err)
				}
				var inputs []pack.Input
				for _, a := range args[1:] {
					inputs = append(inputs, pack.ParseInput(a))
				}
				l, err := layout.OpenOrCreate(ctx, ref.Path)
				if err != nil {
					return err
				}
				bar := progress.New(e.stderr, "packing", e.progress)
				opts.Progress = bar.Update
				res, err := pack.Pack(ctx, l, ref.Tag, inputs, opts)
				bar.Finish()
				if err != nil {
					return err
				}
				var total int64
				for _, d := range res.Layers {
					total += d.Size
				}
				fmt.Fprintf(e.stdout, "packed %s: %d file(s), %s, manifest %s\n", ref, len(res.Layers), progress.Bytes(total), res.Manifest.Digest)
				return nil
			}
		},
	}
}

func unpackCommand() command {
	return command{
		name:    "unpack",
		args:    "LAYOUT[:TAG|@DIGEST] [-o DIR] [--overwrite]",
		summary: "Unpack an artifact's files into a directory, verified",
		examples: `  ocipack unpack ./bundle:v1.2.0 -o /srv/deploy
  ocipack unpack ./bundle@sha256:0123…cdef -o out --overwrite

Every byte is checked against its digest before any file appears in DIR;
on any error DIR is left exactly as it was. A layout with a single tag
needs no tag.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			out := fs.StringP("output", "o", ".", "destination `DIR` (created if missing)")
			overwrite := fs.Bool("overwrite", false, "replace files and directories that already exist in DIR")
			maxSize := fs.Int64("max-size", 0, "refuse to write more than this many `BYTES` in all (0: the default limit)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("need exactly one LAYOUT[:TAG|@DIGEST]")
				}
				l, ref, err := openLayoutRef(ctx, args[0])
				if err != nil {
					return err
				}
				r := ref.Ref()
				if r == "" {
					if r, err = onlyTag(ctx, l); err != nil {
						return err
					}
				}
				bar := progress.New(e.stderr, "unpacking", e.progress)
				res, err := unpack.Unpack(ctx, l, r, *out, unpack.Options{Overwrite: *overwrite, MaxSize: *maxSize, Progress: bar.Update})
				bar.Finish()
				if err != nil {
					return err
				}
				for _, f := range res.Files {
					kind := "file"
					if f.Dir {
						kind = "dir "
					}
					fmt.Fprintf(e.stdout, "%s %s\n", kind, filepath.Join(*out, filepath.FromSlash(f.Title)))
				}
				fmt.Fprintf(e.stdout, "unpacked %s (%s) into %s: %d item(s)\n", ref, res.Manifest.Digest, *out, len(res.Files))
				return nil
			}
		},
	}
}

// onlyTag returns the layout's one tag, or explains why a tag is needed.
func onlyTag(ctx context.Context, l *layout.Layout) (string, error) {
	tags, err := l.Tags(ctx)
	if err != nil {
		return "", err
	}
	switch len(tags) {
	case 1:
		return tags[0].Tag, nil
	case 0:
		return "", fmt.Errorf("layout %s has no tags: nothing to unpack", l.Path())
	}
	names := make([]string, 0, 5)
	for i, t := range tags {
		if i == 5 {
			names = append(names, "…")
			break
		}
		names = append(names, t.Tag)
	}
	return "", usagef("layout %s has %d tags (%s): name one, as %s:TAG", l.Path(), len(tags), strings.Join(names, ", "), l.Path())
}

func lsCommand() command {
	return command{
		name:    "ls",
		args:    "LAYOUT [--json]",
		summary: "List a layout's tags with digest, artifact type and size",
		examples: `  ocipack ls ./bundle
  ocipack ls ./bundle --json | jq -r '.[].tag'
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			asJSON := fs.Bool("json", false, "print JSON for scripts")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("need exactly one LAYOUT")
				}
				l, _, err := openLayoutRef(ctx, args[0])
				if err != nil {
					return err
				}
				entries, err := listTags(ctx, l)
				if err != nil {
					return err
				}
				if *asJSON {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(entries)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TAG\tDIGEST\tARTIFACT TYPE\tSIZE")
				for _, t := range entries {
					at := t.ArtifactType
					if at == "" {
						at = t.MediaType
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Tag, t.Digest, at, progress.Bytes(t.Size))
				}
				return tw.Flush()
			}
		},
	}
}

// lsEntry is one line of `ocipack ls`.
type lsEntry struct {
	Tag          string        `json:"tag"`
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	ArtifactType string        `json:"artifactType,omitempty"`
	// Size is the manifest's size plus its config's and layers' sizes.
	Size int64 `json:"size"`
}

func listTags(ctx context.Context, l *layout.Layout) ([]lsEntry, error) {
	tags, err := l.Tags(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]lsEntry, 0, len(tags))
	for _, t := range tags {
		d := t.Descriptor
		e := lsEntry{Tag: t.Tag, Digest: d.Digest, MediaType: d.MediaType, ArtifactType: d.ArtifactType, Size: d.Size}
		if d.MediaType == ocispec.MediaTypeImageManifest {
			m, err := layout.ReadManifest(ctx, l, d)
			if err != nil {
				return nil, fmt.Errorf("tag %s: %w", t.Tag, err)
			}
			if m.ArtifactType != "" {
				e.ArtifactType = m.ArtifactType
			} else if e.ArtifactType == "" {
				e.ArtifactType = m.Config.MediaType
			}
			e.Size += m.Config.Size
			for _, layer := range m.Layers {
				e.Size += layer.Size
			}
		}
		out = append(out, e)
	}
	return out, nil
}
