package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/archive"
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
		nargs:   exactly(1, "need exactly one LAYOUT"),
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
				bar := progress.New(e.stderr, "verifying", e.progress, progress.Final("verified"))
				vr, err := source.Verify(ctx, args[0], source.VerifyOptions{SkipHash: *fast, Progress: bar.Update})
				bar.Finish()
				if err != nil {
					return err
				}
				switch {
				case vr.Volume != nil:
					v := vr.Volume
					if *asJSON {
						return writeJSON(e.stdout, v)
					}
					fmt.Fprintf(e.stdout, "volume %d of %d of archive %s: %s, digest %s: ok\n", v.Number, v.Count, v.Archive, progress.Bytes(v.Size), v.Digest)
					return nil
				case vr.Archive != nil:
					return printArchiveCheck(e, args[0], vr.Archive, *asJSON)
				}
				rep := vr.Layout
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
					return fmt.Errorf("%w: %d in layout %s (listed above); re-import or re-pull what is damaged", errProblems, len(rep.Problems), args[0])
				}
				return nil
			}
		},
	}
}

// printArchiveCheck prints what verify found in a whole archive.
func printArchiveCheck(e *env, path string, rep *archive.CheckReport, asJSON bool) error {
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
