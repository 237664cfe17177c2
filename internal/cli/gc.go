package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
)

func gcCommand() command {
	return command{
		name:    "gc",
		args:    "LAYOUT [--dry-run]",
		nargs:   exactly(1, "need exactly one LAYOUT"),
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
				l, err := layout.Open(ctx, args[0])
				if err != nil {
					return err
				}
				defer l.Close()
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
