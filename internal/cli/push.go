package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

func pushCommand() command {
	return command{
		name:    "push",
		args:    "LAYOUT[:TAG|@DIGEST] REGISTRY/REPO[:TAG] [flags]\n  ocipack push --all-tags LAYOUT REGISTRY/REPO [flags]",
		nargs:   exactly(2, "need a LAYOUT[:TAG|@DIGEST] and a REGISTRY/REPO[:TAG]"),
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
				l, src, err := openSource(ctx, args[0])
				if err != nil {
					return err
				}
				defer l.Close()
				dst, err := transfer.ParseReference(args[1])
				if err != nil {
					return usagef("%v", err)
				}
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				onEvent, finish := e.transferReporter("pushed")
				opts.OnEvent = onEvent

				repoName := dst.Registry + "/" + dst.Repository
				if *allTags {
					if src.Ref() != "" || dst.Reference != "" {
						return usagef("--all-tags takes a LAYOUT and a REGISTRY/REPO without tags")
					}
					tags, err := l.Tags(ctx)
					if err != nil {
						return err
					}
					if len(tags) == 0 {
						return fmt.Errorf("%s has no tags: nothing to push", l.Path())
					}
					// One client for every tag; several tags at once.
					err = transfer.PushTags(ctx, l, dst, tags, opts, func(tag string, res *transfer.Result) {
						finish() // end the progress line before the summary
						fmt.Fprintf(e.stdout, "%s -> %s:%s\n", summary("pushed", res), repoName, tag)
					})
					finish() // end the progress line before an error is printed too
					return err
				}
				r, err := chooseRef(ctx, l, src)
				if err != nil {
					return err
				}
				dstTag := dst.Reference
				if dstTag == "" && src.Digest == "" {
					dstTag = layout.NameTag(r) // a full name's tag; "" (by digest) for a digest-only name
				}
				if _, err := dst.Digest(); err == nil {
					return usagef("the destination %s names a digest: give a tag or none", args[1])
				}
				res, err := transfer.Push(ctx, l, r, dst, dstTag, opts)
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
