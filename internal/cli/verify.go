package cli

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/source"
)

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
				if source.IsArchive(args[0]) {
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
				defer l.Close()
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
