package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
)

func importCommand() command {
	return command{
		name:    "import",
		args:    "ARCHIVE... LAYOUT [--key NAME.pub]...",
		nargs:   atLeast(2, "need at least one ARCHIVE (or - for stdin) and a LAYOUT"),
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
` + fmt.Sprintf(policyHelp, "imported") + `
An archive ocipack wrote (tar, zstd) is checked read in place; other
archives, and standard input, once their blobs are stored and before any
tag is added (those blobs are removed again). The signatures may be in the
archive or already in the layout.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			pf := addPolicyFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				dst := args[len(args)-1]
				if ref, err := layout.ParseReference(dst); err != nil || ref.Ref() != "" {
					return usagef("the last argument is the LAYOUT directory, without a tag")
				}
				stdin := len(args) == 2 && args[0] == "-"
				if !stdin && slices.Contains(args[:len(args)-1], "-") {
					return usagef("- (standard input) must be the only ARCHIVE: ocipack import - LAYOUT")
				}
				pol, err := pf.enforcement()
				if err != nil {
					return err
				}
				bar := progress.New(e.stderr, "importing", e.progress, progress.Final("imported"))
				opts := archive.ImportOptions{Progress: bar.Update, Policy: pol}
				var rep *archive.ImportReport
				if stdin {
					rep, err = archive.ImportStreamDir(ctx, e.stdin, dst, opts)
				} else {
					rep, err = archive.ImportDir(ctx, args[:len(args)-1], dst, opts)
				}
				bar.Finish()
				if err != nil {
					return refused(e, err, "nothing was imported into "+dst)
				}
				fmt.Fprintf(e.stdout, "imported %d blob(s), %s, %d skipped (already there); tags: %s\n",
					rep.Blobs, progress.Bytes(rep.Bytes), rep.Skipped, tagList(rep.Tags, 10, dst))
				return nil
			}
		},
	}
}

// tagList joins tags for one line of output: the first max of them, then
// how many more there are and where to see them all.
func tagList(tags []string, max int, lay string) string {
	if len(tags) <= max {
		return strings.Join(tags, ", ")
	}
	return fmt.Sprintf("%s and %d more (ocipack ls %s)", strings.Join(tags[:max], ", "), len(tags)-max, lay)
}
