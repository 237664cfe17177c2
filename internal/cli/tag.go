package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/layout"
)

func tagCommand() command {
	return command{
		name:     "tag",
		args:     "LAYOUT:TAG|LAYOUT@DIGEST NEWTAG...",
		nargs:    atLeast(2, "need a LAYOUT:TAG (or LAYOUT@DIGEST) and at least one NEWTAG"),
		summary:  "Give an artifact of a layout more tags",
		examples: "  ocipack tag ./bundle:v1.2.0 stable latest\n  ocipack tag ./bundle:v1.2.0 registry.example/apps/bundle:v1.2.0   # a full name\n",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				l, ref, err := openLayoutRef(ctx, args[0])
				if err != nil {
					return err
				}
				defer l.Close()
				if ref.Ref() == "" {
					return usagef("%q names no tag or digest: write LAYOUT:TAG", args[0])
				}
				for _, t := range args[1:] {
					if !layout.ValidName(t) {
						return usagef("%q is not a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) or full name (docker.io/library/nginx:1.27)", t)
					}
				}
				// Every new tag in one write of index.json, under its
				// lock: all of them or none.
				desc, err := l.Resolve(ctx, ref.Ref())
				if err != nil {
					return err
				}
				if err := l.Put(ctx, layout.WithTags(desc, args[1:]...)...); err != nil {
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
