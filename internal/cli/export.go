package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/source"
)

func exportCommand() command {
	return command{
		name:    "export",
		args:    "LAYOUT[:TAG[,TAG...]] ARCHIVE [--split SIZE] [--since OLD] [--platform OS/ARCH]",
		nargs:   exactly(2, "need a LAYOUT[:TAG[,TAG...]] and an ARCHIVE path (or - for stdout)"),
		summary: "Write a layout (or some tags) into one verifiable archive file, or volumes",
		examples: `  ocipack export ./bundle bundle.tar
  ocipack export ./bundle:v1.2.0,v1.2.1 bundle.tar.zst         # zstd, by extension
  ocipack export ./bundle bundle.tar --split 4G                # bundle.tar.001, .002, ...
  ocipack export ./bundle delta.tar --since last-week.tar      # only what changed
  ocipack export ./bundle - | ssh gateway 'cat > bundle.tar'
  ocipack export ./images:nginx nginx-arm64.tar --platform linux/arm64

The archive is a tar of an OCI layout (each blob once, in a stable order)
with a list of its contents, so 'ocipack import' can check it whole. Volumes
each carry the archive's ID, their number and their own digest.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			split := fs.String("split", "", "write volumes of at most `SIZE` (e.g. 4G, 700M)")
			since := fs.String("since", "", "leave out blobs that `OLD` (an earlier archive or layout) holds")
			platforms := addPlatformFlag(fs)
			return func(ctx context.Context, e *env, args []string) error {
				path, tags, err := source.ParseTagList(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				l, err := source.Open(ctx, path)
				if err != nil {
					return err
				}
				defer l.Close()
				opts := archive.ExportOptions{Compression: archive.CompressionFor(args[1])}
				if opts.Platforms, err = parsePlatforms(*platforms); err != nil {
					return err
				}
				if *split != "" {
					if opts.Split, err = parseSize(*split); err != nil {
						return usagef("--split: %v", err)
					}
					if args[1] == "-" {
						return usagef("--split writes files: give an ARCHIVE path, not -")
					}
				}
				if *since != "" {
					if opts.Since, err = source.Digests(ctx, *since); err != nil {
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
