package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/transfer"
)

func tagsCommand() command {
	return command{
		name:    "tags",
		args:    "REGISTRY/REPO [--json] [flags]",
		nargs:   exactly(1, "need exactly one REGISTRY/REPO"),
		summary: "List the tags of a registry repository",
		examples: `  ocipack tags registry.example/apps/bundle
  ocipack tags localhost:5000/apps/bundle --plain-http --json | jq -r '.[]'

It prints one tag a line, in the registry's order (--json: a JSON array of
strings), reading every page of the registry's list, up to 1,000 pages and
100,000 tags.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, false)
			asJSON := fs.Bool("json", false, "print JSON for scripts")
			return func(ctx context.Context, e *env, args []string) error {
				ref, err := transfer.ParseReference(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				if ref.Reference != "" {
					return usagef("%s names a tag or digest: give the repository alone, REGISTRY/REPO", args[0])
				}
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				tags, err := transfer.ListTags(ctx, ref, opts.Connection)
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(e.stdout, tags)
				}
				for _, t := range tags {
					fmt.Fprintln(e.stdout, t)
				}
				return nil
			}
		},
	}
}
