// Command ocipack packs files and directories into an OCI image layout,
// moves the layout across an air gap or into a registry, and unpacks it on
// the target machine.
//
// This file is the command line only: it parses flags, calls the packages
// and prints their results. The work lives in layout, pack and unpack.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	"oras.land/oras-go/v2/registry/remote/auth"

	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/transfer"
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
	return []command{packCommand(), unpackCommand(), lsCommand(), pushCommand(), pullCommand(), loginCommand(), logoutCommand(), exportCommand(), importCommand(), verifyCommand(), gcCommand(), inspectCommand(), tagCommand(), rmCommand()}
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

func readPassword(f *os.File) ([]byte, error) { return term.ReadPassword(int(f.Fd())) }

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
		examples: `  # a tarball and a directory of manifests, as v1.2.0
  ocipack pack ./bundle:v1.2.0 app-1.2.0.tar.gz ./k8s

  # a file with a media type of your choosing
  ocipack pack ./bundle:v1 app.tar.gz:application/vnd.example.app.v1.tar+gzip

  # a Helm chart, as 'helm push' stores it (tag = chart version)
  ocipack pack ./charts --helm mychart-1.2.0.tgz

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
			helm := fs.String("helm", "", "pack this packaged Helm `CHART.tgz` the way 'helm push' does (the tag defaults to the chart version)")
			return func(ctx context.Context, e *env, args []string) error {
				if *helm != "" {
					return packHelm(ctx, e, args, *helm)
				}
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
				defer l.Close()
				bar := progress.New(e.stderr, "packing", e.progress, progress.Final("packed"))
				opts.Progress = bar.Update
				opts.CheckSpace = func(need int64) error { return archive.CheckSpace(ref.Path, need) }
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

// packHelm is `ocipack pack LAYOUT[:TAG] --helm CHART.tgz`.
func packHelm(ctx context.Context, e *env, args []string, chart string) error {
	if len(args) != 1 {
		return usagef("with --helm, give only a LAYOUT[:TAG]: the chart is the --helm file")
	}
	ref, err := layout.ParseReference(args[0])
	if err != nil {
		return usagef("%v", err)
	}
	if ref.Digest != "" {
		return usagef("%q names a digest: write LAYOUT or LAYOUT:TAG", args[0])
	}
	sde, err := pack.SourceDateEpochFromEnv()
	if err != nil {
		return usagef("%v", err)
	}
	l, err := layout.OpenOrCreate(ctx, ref.Path)
	if err != nil {
		return err
	}
	defer l.Close()
	bar := progress.New(e.stderr, "packing", e.progress, progress.Final("packed"))
	res, err := pack.PackHelm(ctx, l, ref.Tag, chart, pack.Options{SourceDateEpoch: sde, Progress: bar.Update})
	bar.Finish()
	if err != nil {
		return err
	}
	tag := ref.Tag
	if tag == "" {
		if meta, err := pack.HelmChartMetadata(chart); err == nil {
			tag = pack.HelmTag(meta.Version)
		}
	}
	fmt.Fprintf(e.stdout, "packed Helm chart %s as %s:%s, manifest %s\n", chart, ref.Path, tag, res.Manifest.Digest)
	return nil
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
				src, ref, err := openSource(ctx, args[0])
				if err != nil {
					return err
				}
				defer src.close()
				r, err := src.ref(ctx, ref)
				if err != nil {
					return err
				}
				bar := progress.New(e.stderr, "unpacking", e.progress, progress.Final("unpacked"))
				res, err := unpack.Unpack(ctx, src.target, r, *out, unpack.Options{Overwrite: *overwrite, MaxSize: *maxSize, Progress: bar.Update})
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

// source is what unpack and push read from: a layout directory, or an
// archive file (or its split volumes) read in place.
type source struct {
	target oras.ReadOnlyTarget
	path   string
	tags   func(context.Context) ([]string, error)
	close  func() error
}

// openSource opens the layout or archive a reference names.
func openSource(ctx context.Context, s string) (*source, layout.Reference, error) {
	ref, err := layout.ParseReference(s)
	if err != nil {
		return nil, ref, usagef("%v", err)
	}
	if isArchive(ref.Path) {
		r, err := archive.Open(ctx, ref.Path)
		if err != nil {
			return nil, ref, err
		}
		return &source{target: r, path: ref.Path, tags: r.Tags, close: r.Close}, ref, nil
	}
	l, err := layout.Open(ctx, ref.Path)
	if err != nil {
		return nil, ref, err
	}
	tags := func(ctx context.Context) ([]string, error) {
		ts, err := l.Tags(ctx)
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = t.Tag
		}
		return names, err
	}
	return &source{target: l, path: ref.Path, tags: tags, close: l.Close}, ref, nil
}

// isArchive reports whether p is an archive file (or the base name of split
// volumes) rather than a layout directory.
func isArchive(p string) bool {
	if fi, err := os.Stat(p); err == nil {
		return fi.Mode().IsRegular()
	}
	_, err := os.Stat(archive.VolumeName(p, 1))
	return err == nil
}

// ref returns the reference's tag or digest, or the source's only tag.
func (s *source) ref(ctx context.Context, r layout.Reference) (string, error) {
	if r.Ref() != "" {
		return r.Ref(), nil
	}
	tags, err := s.tags(ctx)
	if err != nil {
		return "", err
	}
	switch len(tags) {
	case 1:
		return tags[0], nil
	case 0:
		return "", fmt.Errorf("%s has no tags: nothing to take", s.path)
	}
	shown := tags
	if len(shown) > 5 {
		shown = append(shown[:5:5], "…")
	}
	return "", usagef("%s has %d tags (%s): name one, as %s:TAG", s.path, len(tags), strings.Join(shown, ", "), s.path)
}

func lsCommand() command {
	return command{
		name:    "ls",
		args:    "LAYOUT [--json]",
		summary: "List a layout's tags with digest, artifact type and size",
		examples: `  ocipack ls ./bundle
  ocipack ls ./bundle --json | jq -r '.[].tag'

Manifests that index.json lists without a tag (as 'crane pull --format=oci'
writes them) are listed after the tags as <none> (tag "" in --json); address
them as LAYOUT@DIGEST. Referrers (signatures, SBOMs) are not listed.
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
				entries, err := l.Summaries(ctx)
				if err != nil {
					return err
				}
				var broken []string
				if *asJSON {
					// The entries carry their errors; the exit status
					// says so too, as it does for the table.
					if err := writeJSON(e.stdout, entries); err != nil {
						return err
					}
					for _, t := range entries {
						if t.Error != "" {
							broken = append(broken, entryName(t))
						}
					}
					if len(broken) > 0 {
						return fmt.Errorf("%d tag(s) point at damaged or missing manifests (%s); run 'ocipack verify %s'", len(broken), strings.Join(broken, ", "), l.Path())
					}
					return nil
				}
				// tabwriter writes cell by cell: buffered, a table of
				// 10,000 tags is a few writes rather than 120,000.
				bw := bufio.NewWriterSize(e.stdout, 64<<10)
				tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TAG\tDIGEST\tARTIFACT TYPE\tFILES\tSIZE\tCREATED")
				for _, t := range entries {
					at := t.ArtifactType
					if at == "" {
						at = t.MediaType
					}
					tag := t.Tag
					if tag == "" {
						tag = "<none>" // as docker lists an untagged image
					}
					if t.Error != "" {
						broken = append(broken, entryName(t))
						fmt.Fprintf(tw, "%s\t%s\t%s\t?\t?\tERROR: %s\n", tag, t.Digest, at, oneLine(t.Error))
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", tag, t.Digest, at, t.Files, progress.Bytes(t.Size), t.Created)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if err := bw.Flush(); err != nil {
					return err
				}
				if len(broken) > 0 {
					return fmt.Errorf("%d tag(s) point at damaged or missing manifests (%s); run 'ocipack verify %s'", len(broken), strings.Join(broken, ", "), l.Path())
				}
				return nil
			}
		},
	}
}

// entryName names a listed entry in a message: its tag, or @DIGEST.
func entryName(s layout.Summary) string {
	if s.Tag != "" {
		return s.Tag
	}
	return "@" + s.Digest.String()
}

// registryFlags are the flags every command that talks to a registry has.
type registryFlags struct {
	plainHTTP, insecure   bool
	caFile, certFile, key string
	username              string
	passwordStdin         bool
	concurrency           int
	referrers             bool
	chunkSize             string // push only
	parallelRanges        int    // pull only
}

func addRegistryFlags(fs *pflag.FlagSet, transferFlags bool) *registryFlags {
	f := &registryFlags{}
	fs.StringVarP(&f.username, "username", "u", "", "registry user name (the password is read from stdin with --password-stdin)")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the registry password or token from stdin")
	fs.StringVar(&f.caFile, "ca-file", "", "trust the certificate authorities in this PEM `FILE` too")
	fs.StringVar(&f.certFile, "cert-file", "", "client certificate PEM `FILE` for mutual TLS")
	fs.StringVar(&f.key, "key-file", "", "client key PEM `FILE` for mutual TLS")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the registry's TLS certificate")
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "talk plain HTTP to the registry, not HTTPS")
	if transferFlags {
		fs.IntVar(&f.concurrency, "concurrency", 4, "blobs transferred at once")
		fs.BoolVar(&f.referrers, "referrers", false, "carry the artifact's referrers (SBOMs, signatures) along")
		switch fs.Name() {
		case "ocipack push":
			fs.StringVar(&f.chunkSize, "chunk-size", "", "send blobs larger than `SIZE` (e.g. 64M) in chunks of that size, resumable after a cut (default: whole, chunks of 64M only if the registry refuses a blob as too large)")
		case "ocipack pull":
			fs.IntVar(&f.parallelRanges, "parallel-ranges", 1, "download each blob of 8 MiB or more in `N` HTTP ranges at once")
		}
	}
	return f
}

// options turns the flags into transfer options, reading the password from
// stdin when asked. The password never comes from an argument, so it never
// shows in the process list.
func (f *registryFlags) options(e *env) (transfer.Options, error) {
	o := transfer.Options{
		PlainHTTP: f.plainHTTP, Insecure: f.insecure,
		CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.key,
		Concurrency: f.concurrency, Referrers: f.referrers,
		UserAgent:      "ocipack/" + version,
		ParallelRanges: f.parallelRanges,
	}
	if f.chunkSize != "" {
		n, err := parseSize(f.chunkSize)
		if err != nil || n < 1<<20 {
			return o, usagef("--chunk-size %q: give a size of at least 1M, such as 16M or 1G", f.chunkSize)
		}
		o.ChunkSize = n
	}
	if f.parallelRanges < 0 || f.parallelRanges > 64 {
		return o, usagef("--parallel-ranges %d: give a number from 1 to 64", f.parallelRanges)
	}
	if f.passwordStdin && f.username == "" {
		return o, usagef("--password-stdin needs -u/--username")
	}
	if f.username != "" {
		if !f.passwordStdin {
			return o, usagef("-u/--username needs --password-stdin (a password is never taken as an argument)")
		}
		b, err := io.ReadAll(io.LimitReader(e.stdin, 64<<10))
		if err != nil {
			return o, fmt.Errorf("read password from stdin: %w", err)
		}
		o.Username, o.Password = f.username, strings.TrimRight(string(b), "\r\n")
		if o.Password == "" {
			return o, usagef("--password-stdin: stdin was empty")
		}
		return o, nil
	}
	store, err := transfer.DockerCredentials()
	if err != nil {
		return o, err
	}
	o.Credentials = store
	return o, nil
}

// transferReporter shows a transfer's progress: a progress line on a
// terminal, one plain line a blob otherwise, nothing with --quiet. verb is
// "pushed" or "pulled".
//
// The line counts the blobs (layers and configs) of the graph: their total
// is known before the first starts (transfer.BlobPlanned), so it stays the
// same throughout; a blob the destination has counts as done. Blobs not
// planned (those of referrers) are left out of the line.
func transferReporter(e *env, verb string, quiet *bool) (func(transfer.Event), func()) {
	if *quiet {
		return nil, func() {}
	}
	if e.progress {
		ing := map[string]string{"pushed": "pushing", "pulled": "pulling"}[verb]
		bar := progress.New(e.stderr, ing, true, progress.Final(verb))
		var mu sync.Mutex
		var total, done, skipped int64
		planned := map[digest.Digest]bool{}
		perBlob := map[digest.Digest]int64{} // bytes counted as done so far
		return func(ev transfer.Event) {
				mu.Lock()
				defer mu.Unlock()
				d := ev.Descriptor
				if ev.Kind == transfer.BlobPlanned {
					if !planned[d.Digest] {
						planned[d.Digest] = true
						total += d.Size
					}
					return // drawn once the transfer starts, with the whole total
				}
				if !planned[d.Digest] {
					return
				}
				switch ev.Kind {
				case transfer.BlobStarted:
					done -= perBlob[d.Digest] // a retried blob starts over
					perBlob[d.Digest] = 0
				case transfer.BlobProgress, transfer.BlobDone:
					done += ev.Bytes - perBlob[d.Digest]
					perBlob[d.Digest] = ev.Bytes
				case transfer.BlobSkipped:
					if perBlob[d.Digest] < d.Size {
						skipped += d.Size - perBlob[d.Digest]
						done += d.Size - perBlob[d.Digest]
						perBlob[d.Digest] = d.Size
					}
				}
				bar.UpdateSkipping(done, skipped, total)
			}, func() {
				bar.Finish()
			}
	}
	var mu sync.Mutex
	return func(ev transfer.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case transfer.BlobDone:
			fmt.Fprintf(e.stderr, "%s %s %s %s\n", verb, ev.Descriptor.Digest, progress.Bytes(ev.Descriptor.Size), ev.Descriptor.MediaType)
		case transfer.BlobSkipped:
			fmt.Fprintf(e.stderr, "skipped %s %s (already there)\n", ev.Descriptor.Digest, progress.Bytes(ev.Descriptor.Size))
		}
	}, func() {}
}

func summary(verb string, res *transfer.Result) string {
	moved := map[string]string{"pushed": "sent", "pulled": "received"}[verb]
	return fmt.Sprintf("%s %s: %s %s, %d blob(s) copied, %d skipped (already there), %d manifest(s)",
		verb, res.Manifest.Digest, progress.Bytes(res.Bytes), moved, res.Copied, res.Skipped, res.Manifests)
}

func pushCommand() command {
	return command{
		name:    "push",
		args:    "LAYOUT[:TAG|@DIGEST] REGISTRY/REPO[:TAG] [flags]\n  ocipack push --all-tags LAYOUT REGISTRY/REPO [flags]",
		summary: "Push an artifact (or every tag) of a layout to a registry",
		examples: `  ocipack push ./bundle:v1.2.0 registry.internal:5000/apps/bundle
  ocipack push ./bundle:v1.2.0 registry.internal:5000/apps/bundle:stable
  ocipack push --all-tags ./bundle registry.internal:5000/apps/bundle
  echo "$TOKEN" | ocipack push ./bundle:v1 harbor.example/apps/bundle -u robot --password-stdin
  ocipack push ./charts:0.1.0 registry.internal/charts/hello --ca-file /etc/pki/internal-ca.pem

Blobs the registry has already are skipped; running an interrupted push
again sends only what is missing.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, true)
			allTags := fs.Bool("all-tags", false, "push every tag of the layout")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 2 {
					return usagef("need a LAYOUT[:TAG|@DIGEST] and a REGISTRY/REPO[:TAG]")
				}
				l, src, err := openSource(ctx, args[0])
				if err != nil {
					return err
				}
				defer l.close()
				dst, err := transfer.ParseReference(args[1])
				if err != nil {
					return usagef("%v", err)
				}
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				q, _ := fs.GetBool("quiet")
				onEvent, finish := transferReporter(e, "pushed", &q)
				opts.OnEvent = onEvent

				repoName := dst.Registry + "/" + dst.Repository
				if *allTags {
					if src.Ref() != "" || dst.Reference != "" {
						return usagef("--all-tags takes a LAYOUT and a REGISTRY/REPO without tags")
					}
					tags, err := l.tags(ctx)
					if err != nil {
						return err
					}
					if len(tags) == 0 {
						return fmt.Errorf("%s has no tags: nothing to push", l.path)
					}
					// One client for every tag; several tags at once.
					err = transfer.PushTags(ctx, l.target, dst, tags, opts, func(tag string, res *transfer.Result) {
						finish() // end the progress line before the summary
						fmt.Fprintf(e.stdout, "%s -> %s:%s\n", summary("pushed", res), repoName, tag)
					})
					finish() // end the progress line before an error is printed too
					return err
				}
				r, err := l.ref(ctx, src)
				if err != nil {
					return err
				}
				dstTag := dst.Reference
				if dstTag == "" && src.Digest == "" {
					dstTag = r
				}
				if _, err := dst.Digest(); err == nil {
					return usagef("the destination %s names a digest: give a tag or none", args[1])
				}
				res, err := transfer.Push(ctx, l.target, r, dst, dstTag, opts)
				finish() // end the progress line before an error is printed too
				if err != nil {
					return err
				}
				target := repoName
				if dstTag != "" {
					target += ":" + dstTag
				} else {
					target += "@" + res.Manifest.Digest.String()
				}
				fmt.Fprintf(e.stdout, "%s -> %s\n", summary("pushed", res), target)
				return nil
			}
		},
	}
}

func pullCommand() command {
	return command{
		name:    "pull",
		args:    "REGISTRY/REPO[:TAG|@DIGEST] LAYOUT[:TAG] [flags]\n  ocipack pull --all-tags REGISTRY/REPO LAYOUT [flags]",
		summary: "Pull an artifact (or every tag) from a registry into a layout",
		examples: `  ocipack pull registry.example/apps/bundle:v1.2.0 ./bundle
  ocipack pull registry.example/apps/bundle@sha256:0123…cdef ./bundle:v1.2.0
  ocipack pull registry.example/apps/bundle:v1 ./bundle --referrers
  ocipack pull --all-tags registry.example/apps/bundle ./bundle

The layout is created if missing; its other tags are left alone. What was
pulled unpacks with 'ocipack unpack'. --all-tags pulls every tag the
registry lists for the repository, under the same names, several at once
(--concurrency) over one connection; a blob shared by several tags is
fetched once. It prints one line a tag and a total; the first failure
stops the rest and names its tag.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, true)
			allTags := fs.Bool("all-tags", false, "pull every tag of the repository")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 2 {
					if *allTags {
						return usagef("--all-tags needs a REGISTRY/REPO and a LAYOUT")
					}
					return usagef("need a REGISTRY/REPO[:TAG|@DIGEST] and a LAYOUT[:TAG]")
				}
				src, err := transfer.ParseReference(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				if !*allTags && src.Reference == "" {
					return usagef("%s names no tag or digest: write REGISTRY/REPO:TAG or @sha256:…", args[0])
				}
				dst, err := layout.ParseReference(args[1])
				if err != nil {
					return usagef("%v", err)
				}
				tag := dst.Tag
				switch {
				case *allTags:
					if src.Reference != "" || dst.Tag != "" || dst.Digest != "" {
						return usagef("--all-tags takes a REGISTRY/REPO and a LAYOUT without tags")
					}
				case dst.Digest != "":
					return usagef("the destination %s names a digest: give a tag or none", args[1])
				case tag == "":
					if _, err := src.Digest(); err == nil {
						return usagef("pulling by digest needs a tag for the layout: write %s:TAG", args[1])
					}
					tag = src.Reference
				}
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				l, err := layout.OpenOrCreate(ctx, dst.Path)
				if err != nil {
					return err
				}
				defer l.Close()
				q, _ := fs.GetBool("quiet")
				onEvent, finish := transferReporter(e, "pulled", &q)
				opts.OnEvent = onEvent
				if *allTags {
					var total transfer.Result
					n := 0
					// One client for every tag; several tags at once.
					err = transfer.PullTags(ctx, src, l, nil, opts, func(tag string, res *transfer.Result) {
						finish() // end the progress line before the summary
						fmt.Fprintf(e.stdout, "%s -> %s:%s\n", summary("pulled", res), dst.Path, tag)
						n++
						total.Bytes += res.Bytes
						total.Copied += res.Copied
						total.Skipped += res.Skipped
						total.Manifests += res.Manifests
					})
					finish() // end the progress line before an error is printed too
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "pulled %d tag(s) of %s: %s received, %d blob(s) copied, %d skipped (already there), %d manifest(s) -> %s\n",
						n, src, progress.Bytes(total.Bytes), total.Copied, total.Skipped, total.Manifests, dst.Path)
					return nil
				}
				res, err := transfer.Pull(ctx, src, l, tag, opts)
				finish()
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s -> %s:%s\n", summary("pulled", res), dst.Path, tag)
				return nil
			}
		},
	}
}

func loginCommand() command {
	return command{
		name:    "login",
		args:    "REGISTRY [-u USER] [--password-stdin]",
		summary: "Log in to a registry and store the credential as docker does",
		examples: `  echo "$TOKEN" | ocipack login registry.internal:5000 -u robot --password-stdin
  ocipack login harbor.example -u admin      # asks for the password on the terminal

The credential goes to docker's credential helper when config.json names one
(credsStore, credHelpers), else into config.json under $DOCKER_CONFIG or
~/.docker, where docker, oras and helm find it too.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, false)
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("need exactly one REGISTRY (HOST[:PORT])")
				}
				host := args[0]
				if rf.username == "" {
					return usagef("give -u/--username")
				}
				var password string
				if rf.passwordStdin {
					b, err := io.ReadAll(io.LimitReader(e.stdin, 64<<10))
					if err != nil {
						return fmt.Errorf("read password from stdin: %w", err)
					}
					password = strings.TrimRight(string(b), "\r\n")
				} else if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
					fmt.Fprint(e.stderr, "Password: ")
					b, err := readPassword(f)
					fmt.Fprintln(e.stderr)
					if err != nil {
						return fmt.Errorf("read password: %w", err)
					}
					password = string(b)
				} else {
					return usagef("no terminal to ask for the password on: pipe it in with --password-stdin")
				}
				if password == "" {
					return usagef("the password is empty")
				}
				user := rf.username
				rf.username, rf.passwordStdin = "", false // the credential is checked as given, not looked up
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				if err := transfer.Login(ctx, opts.Credentials, host, auth.Credential{Username: user, Password: password}, opts); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "login succeeded: %s\n", host)
				return nil
			}
		},
	}
}

func logoutCommand() command {
	return command{
		name:     "logout",
		args:     "REGISTRY",
		summary:  "Remove a registry's stored credential",
		examples: "  ocipack logout registry.internal:5000\n",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("need exactly one REGISTRY (HOST[:PORT])")
				}
				store, err := transfer.DockerCredentials()
				if err != nil {
					return err
				}
				if err := transfer.Logout(ctx, store, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "logged out of %s\n", args[0])
				return nil
			}
		},
	}
}

func tagCommand() command {
	return command{
		name:     "tag",
		args:     "LAYOUT:TAG|LAYOUT@DIGEST NEWTAG...",
		summary:  "Give an artifact of a layout more tags",
		examples: "  ocipack tag ./bundle:v1.2.0 stable latest\n",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) < 2 {
					return usagef("need a LAYOUT:TAG (or LAYOUT@DIGEST) and at least one NEWTAG")
				}
				l, ref, err := openLayoutRef(ctx, args[0])
				if err != nil {
					return err
				}
				defer l.Close()
				if ref.Ref() == "" {
					return usagef("%q names no tag or digest: write LAYOUT:TAG", args[0])
				}
				for _, t := range args[1:] {
					if !layout.ValidTag(t) {
						return usagef("%q is not a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})", t)
					}
				}
				// One read and one write of index.json, under its lock,
				// for every new tag.
				desc, err := l.TagReference(ctx, ref.Ref(), args[1:]...)
				if err != nil {
					return err
				}
				for _, t := range args[1:] {
					fmt.Fprintf(e.stdout, "tagged %s:%s -> %s\n", ref.Path, t, desc.Digest)
				}
				return nil
			}
		},
	}
}

func rmCommand() command {
	return command{
		name:    "rm",
		args:    "LAYOUT:TAG...",
		summary: "Remove tags from a layout (blobs go at the next 'ocipack gc')",
		examples: `  ocipack rm ./bundle:v1.0.0
  ocipack rm ./bundle:v1.0.0 && ocipack gc ./bundle
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) < 1 {
					return usagef("need at least one LAYOUT:TAG")
				}
				// Check every tag first, so that a typo removes nothing.
				for _, a := range args {
					l, ref, err := openLayoutRef(ctx, a)
					if err != nil {
						return err
					}
					if ref.Tag == "" {
						return usagef("%q names no tag: write LAYOUT:TAG", a)
					}
					if _, err := l.Resolve(ctx, ref.Tag); err != nil {
						return fmt.Errorf("%w; nothing was removed", err)
					}
				}
				for _, a := range args {
					l, ref, err := openLayoutRef(ctx, a)
					if err != nil {
						return err
					}
					err = l.Untag(ctx, ref.Tag)
					l.Close()
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "removed tag %s\n", ref)
				}
				return nil
			}
		},
	}
}

// parseSize reads a size such as 4G, 700M, 1.5GiB or 4096 (bytes); the
// units are powers of 1024.
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*float64(mult) > float64(1<<62) {
		return 0, fmt.Errorf("%q is not a size: write a number with K, M, G or T, for example 4G", s)
	}
	return int64(f * float64(mult)), nil
}

// parseExportSource reads LAYOUT[:TAG[,TAG...]].
func parseExportSource(s string) (string, []string, error) {
	if ref, err := layout.ParseReference(s); err == nil && ref.Digest != "" {
		return "", nil, fmt.Errorf("%q: export takes tags, not a digest", s)
	}
	if i := strings.LastIndex(s, ":"); i > 0 {
		tags := strings.Split(s[i+1:], ",")
		ok := true
		for _, t := range tags {
			ok = ok && layout.ValidTag(t)
		}
		if ok {
			return s[:i], tags, nil
		}
	}
	ref, err := layout.ParseReference(s)
	if err != nil {
		return "", nil, err
	}
	if ref.Digest != "" {
		return "", nil, fmt.Errorf("%q: export takes tags, not a digest", s)
	}
	return ref.Path, nil, nil
}

func exportCommand() command {
	return command{
		name:    "export",
		args:    "LAYOUT[:TAG[,TAG...]] ARCHIVE [--split SIZE] [--since OLD]",
		summary: "Write a layout (or some tags) into one verifiable archive file, or volumes",
		examples: `  ocipack export ./bundle bundle.tar
  ocipack export ./bundle:v1.2.0,v1.2.1 bundle.tar.zst         # zstd, by extension
  ocipack export ./bundle bundle.tar --split 4G                # bundle.tar.001, .002, ...
  ocipack export ./bundle delta.tar --since last-week.tar      # only what changed
  ocipack export ./bundle - | ssh gateway 'cat > bundle.tar'

The archive is a tar of an OCI layout (each blob once, in a stable order)
with a list of its contents, so 'ocipack import' can check it whole. Volumes
each carry the archive's ID, their number and their own digest.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			split := fs.String("split", "", "write volumes of at most `SIZE` (e.g. 4G, 700M)")
			since := fs.String("since", "", "leave out blobs that `OLD` (an earlier archive or layout) holds")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 2 {
					return usagef("need a LAYOUT[:TAG[,TAG...]] and an ARCHIVE path (or - for stdout)")
				}
				path, tags, err := parseExportSource(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				l, err := layout.Open(ctx, path)
				if err != nil {
					return err
				}
				opts := archive.ExportOptions{Compression: archive.CompressionFor(args[1])}
				if *split != "" {
					if opts.Split, err = parseSize(*split); err != nil {
						return usagef("--split: %v", err)
					}
					if args[1] == "-" {
						return usagef("--split writes files: give an ARCHIVE path, not -")
					}
				}
				if *since != "" {
					if opts.Since, err = digestsOf(ctx, *since); err != nil {
						return fmt.Errorf("--since %s: %w", *since, err)
					}
				}
				bar := progress.New(e.stderr, "exporting", e.progress, progress.Final("exported"))
				opts.Progress = bar.Update
				var rep *archive.ExportReport
				if args[1] == "-" {
					if f, ok := e.stdout.(*os.File); ok && isTerminal(f) {
						return usagef("refusing to write an archive to a terminal: redirect stdout or give a file")
					}
					rep, err = archive.Export(ctx, l, tags, e.stdout, opts)
				} else {
					rep, err = archive.ExportFile(ctx, l, tags, args[1], opts)
				}
				bar.Finish()
				if err != nil {
					return err
				}
				out := e.stdout
				if args[1] == "-" {
					out = e.stderr
				}
				fmt.Fprintf(out, "exported %d tag(s), %d blob(s), %s", len(rep.Tags), rep.Blobs, progress.Bytes(rep.Bytes))
				if rep.Omitted > 0 {
					fmt.Fprintf(out, " (%d blob(s) left out: OLD holds them)", rep.Omitted)
				}
				fmt.Fprintf(out, ", archive %s\n", rep.ID)
				for _, f := range rep.Files {
					fmt.Fprintf(out, "  %s\n", f)
				}
				return nil
			}
		},
	}
}

// digestsOf lists the blobs an earlier archive or layout holds.
func digestsOf(ctx context.Context, p string) (archive.DigestSet, error) {
	if isArchive(p) {
		return archive.DigestsOfArchive(ctx, p)
	}
	l, err := layout.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return archive.DigestsOfLayout(ctx, l)
}

func importCommand() command {
	return command{
		name:    "import",
		args:    "ARCHIVE... LAYOUT",
		summary: "Verify an archive (or its volumes) and merge it into a layout",
		examples: `  ocipack import bundle.tar ./bundle
  ocipack import bundle.tar.001 bundle.tar.002 bundle.tar.003 ./bundle
  ocipack import bundle.tar ./bundle                           # or just the first volume: finds the rest
  ocipack import delta.tar ./bundle                            # completes every tag, or says what is missing
  ssh gateway 'cat bundle.tar' | ocipack import - ./bundle

Every blob is verified while it is read; tags are added only once all of it
checked out. On any failure (a tampered byte, a missing volume, a full disk)
the layout is left exactly as it was. Plain layout tars (tar -cf, oras
backup) import too.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) < 2 {
					return usagef("need at least one ARCHIVE (or - for stdin) and a LAYOUT")
				}
				dst := args[len(args)-1]
				if ref, err := layout.ParseReference(dst); err != nil || ref.Ref() != "" {
					return usagef("the last argument is the LAYOUT directory, without a tag")
				}
				stdin := len(args) == 2 && args[0] == "-"
				if !stdin && slices.Contains(args[:len(args)-1], "-") {
					return usagef("- (standard input) must be the only ARCHIVE: ocipack import - LAYOUT")
				}
				bar := progress.New(e.stderr, "importing", e.progress, progress.Final("imported"))
				opts := archive.ImportOptions{Progress: bar.Update}
				var rep *archive.ImportReport
				var err error
				if stdin {
					rep, err = archive.ImportStreamDir(ctx, e.stdin, dst, opts)
				} else {
					rep, err = archive.ImportDir(ctx, args[:len(args)-1], dst, opts)
				}
				bar.Finish()
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "imported %d blob(s), %s, %d skipped (already there); tags: %s\n",
					rep.Blobs, progress.Bytes(rep.Bytes), rep.Skipped, strings.Join(rep.Tags, ", "))
				return nil
			}
		},
	}
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// errProblems is returned by verify when it found problems: they were
// printed already, so main prints only this summary line.
var errProblems = errors.New("problems found")

func verifyCommand() command {
	return command{
		name:    "verify",
		args:    "LAYOUT [--fast] [--json]",
		summary: "Check a layout: index, every manifest, every blob's size and digest",
		examples: `  ocipack verify ./bundle
  ocipack verify ./bundle --json | jq '.problems[]'
  ocipack verify bundle.tar.003        # one volume of a split archive, on its own

Exit status 0 when the layout is sound (warnings, such as blobs no tag
reaches, which 'ocipack gc' removes, do not count), 1 when anything is
missing or damaged, with every problem listed.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			fast := fs.Bool("fast", false, "check sizes but do not hash blobs (manifests are always hashed)")
			asJSON := fs.Bool("json", false, "print the report as JSON")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("need exactly one LAYOUT")
				}
				if isArchive(args[0]) {
					v, err := archive.Verify(ctx, args[0])
					if errors.Is(err, archive.ErrNotArchive) || errors.Is(err, iofs.ErrNotExist) {
						// A whole archive (or the base name of its volumes).
						return verifyArchive(ctx, e, args[0], *asJSON)
					}
					if err != nil {
						return err
					}
					if *asJSON {
						return writeJSON(e.stdout, v)
					}
					fmt.Fprintf(e.stdout, "volume %d of %d of archive %s: %s, digest %s: ok\n", v.Number, v.Count, v.Archive, progress.Bytes(v.Size), v.Digest)
					return nil
				}
				l, err := layout.Open(ctx, args[0])
				if err != nil {
					return err
				}
				bar := progress.New(e.stderr, "verifying", e.progress, progress.Final("verified"))
				rep, err := l.Check(ctx, layout.CheckOptions{SkipHash: *fast, Progress: bar.Update})
				bar.Finish()
				if err != nil {
					return err
				}
				if *asJSON {
					if err := writeJSON(e.stdout, rep); err != nil {
						return err
					}
				} else {
					for _, p := range rep.Problems {
						fmt.Fprintf(e.stdout, "problem: %s\n", p)
					}
					for _, w := range rep.Warnings {
						fmt.Fprintf(e.stdout, "warning: %s\n", w)
					}
					fmt.Fprintf(e.stdout, "%d tag(s), %d manifest(s), %d blob(s), %s checked: %d problem(s), %d warning(s)\n",
						rep.Tags, rep.Manifests, rep.Blobs, progress.Bytes(rep.Bytes), len(rep.Problems), len(rep.Warnings))
				}
				if !rep.OK() {
					return fmt.Errorf("%w: %d in layout %s (listed above); re-import or re-pull what is damaged", errProblems, len(rep.Problems), l.Path())
				}
				return nil
			}
		},
	}
}

func gcCommand() command {
	return command{
		name:    "gc",
		args:    "LAYOUT [--dry-run]",
		summary: "Remove blobs and manifests no tag reaches, and stale temporary files",
		examples: `  ocipack rm ./bundle:v1.0.0 && ocipack gc ./bundle
  ocipack gc ./bundle --dry-run

It never removes anything a tag reaches, and waits for other ocipack
processes writing into the layout to finish first.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			dryRun := fs.Bool("dry-run", false, "only report what would be removed")
			asJSON := fs.Bool("json", false, "print the report as JSON")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("need exactly one LAYOUT")
				}
				l, err := layout.Open(ctx, args[0])
				if err != nil {
					return err
				}
				rep, err := l.GC(ctx, layout.GCOptions{DryRun: *dryRun})
				if errors.Is(err, layout.ErrCorrupt) {
					return fmt.Errorf("%w; nothing was removed: run 'ocipack verify %s' and repair the layout first", err, args[0])
				}
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(e.stdout, rep)
				}
				verb := "removed"
				if rep.DryRun {
					verb = "would remove"
				}
				for _, r := range rep.Removed {
					fmt.Fprintf(e.stdout, "%s %s %s\n", verb, r.Digest, progress.Bytes(r.Size))
				}
				fmt.Fprintf(e.stdout, "%s %d blob(s) and %d temporary file(s): %s freed\n", verb, len(rep.Removed), rep.TempFiles, progress.Bytes(rep.BytesFreed))
				return nil
			}
		},
	}
}

func inspectCommand() command {
	return command{
		name:    "inspect",
		args:    "LAYOUT:TAG|LAYOUT@DIGEST [--json]",
		summary: "Show an artifact: type, created, annotations and every file",
		examples: `  ocipack inspect ./bundle:v1.2.0
  ocipack inspect ./bundle@sha256:0123…cdef --json
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("need exactly one LAYOUT:TAG")
				}
				l, ref, err := openLayoutRef(ctx, args[0])
				if err != nil {
					return err
				}
				if ref.Ref() == "" {
					return usagef("%q names no tag or digest: write LAYOUT:TAG", args[0])
				}
				in, err := l.Inspect(ctx, ref.Ref())
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(e.stdout, in)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "Reference:\t%s\n", args[0])
				fmt.Fprintf(tw, "Digest:\t%s\n", in.Digest)
				fmt.Fprintf(tw, "Media type:\t%s\n", in.MediaType)
				fmt.Fprintf(tw, "Artifact type:\t%s\n", in.ArtifactType)
				fmt.Fprintf(tw, "Created:\t%s\n", in.Created)
				fmt.Fprintf(tw, "Size:\t%s\n", progress.Bytes(in.Size))
				if in.Subject != nil {
					fmt.Fprintf(tw, "Subject:\t%s\n", in.Subject.Digest)
				}
				keys := make([]string, 0, len(in.Annotations))
				for k := range in.Annotations {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					fmt.Fprintf(tw, "Annotation:\t%s=%s\n", k, in.Annotations[k])
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout)
				tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TITLE\tKIND\tMODE\tSIZE\tMEDIA TYPE\tDIGEST")
				for _, f := range in.Files {
					kind := "file"
					if f.Dir {
						kind = "dir"
					}
					title := f.Title
					if title == "" {
						title = "(untitled)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", title, kind, f.Mode, progress.Bytes(f.Size), f.MediaType, f.Digest)
				}
				return tw.Flush()
			}
		},
	}
}

// verifyArchive checks every blob of a whole archive.
func verifyArchive(ctx context.Context, e *env, path string, asJSON bool) error {
	rep, err := archive.Check(ctx, path)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, rep)
	}
	fmt.Fprintf(e.stdout, "archive %s: %d tag(s), %d blob(s), %s verified", path, len(rep.Tags), rep.Blobs, progress.Bytes(rep.Bytes))
	if len(rep.Required) > 0 {
		fmt.Fprintf(e.stdout, "; a delta: the layout it is imported into must hold %d more blob(s)", len(rep.Required))
	}
	fmt.Fprintln(e.stdout)
	return nil
}
