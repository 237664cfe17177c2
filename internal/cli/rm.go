package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

func rmCommand() command {
	return command{
		name:    "rm",
		args:    "LAYOUT:TAG...",
		nargs:   atLeast(1, "need at least one LAYOUT:TAG"),
		summary: "Remove tags from a layout (blobs go at the next 'ocipack gc')",
		examples: `  ocipack rm ./bundle:v1.0.0
  ocipack rm ./bundle:v1.0.0 && ocipack gc ./bundle
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				// Check every tag first, so that a typo removes nothing.
				for _, a := range args {
					l, ref, err := openLayoutRef(ctx, a)
					if err != nil {
						return err
					}
					if ref.Tag == "" {
						l.Close()
						return usagef("%q names no tag: write LAYOUT:TAG", a)
					}
					_, err = l.Resolve(ctx, ref.Tag)
					l.Close()
					if err != nil {
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
