package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/transfer"
)

func pullCommand() command {
	return command{
		name:    "pull",
		args:    "REGISTRY/REPO[:TAG|@DIGEST] LAYOUT[:TAG] [flags]\n  ocipack pull --all-tags REGISTRY/REPO LAYOUT [flags]",
		summary: "Pull an artifact (or every tag) from a registry into a layout",
		examples: `  ocipack pull registry.example/apps/bundle:v1.2.0 ./bundle
  ocipack pull registry.example/apps/bundle:v1.2.0 ./bundle:v1.2.0
  ocipack pull registry.example/apps/bundle@sha256:0123…cdef ./bundle:v1.2.0
  ocipack pull registry.example/apps/bundle:v1 ./bundle --referrers
  ocipack pull --all-tags registry.example/apps/bundle ./bundle

Without a LAYOUT:TAG the entry is named by its full source name, normalised
as docker does (registry.example/apps/bundle:v1.2.0, docker.io/library/
nginx:1.27, registry.example/app@sha256:…), in org.opencontainers.image.ref.name
and io.containerd.image.name, as 'docker save' and 'ctr export' write it; a
layout may hold entries of many repositories and registries. With
LAYOUT:TAG the entry is named TAG. --all-tags names every entry by its full
name too (registry.example/apps/bundle:v1, …). A plain tag (./bundle:v1)
still finds the one entry whose full name has that tag.

The layout is created if missing; its other tags are left alone. What was
pulled unpacks with 'ocipack unpack'. --all-tags pulls every tag the
registry lists for the repository, under the same names, several at once
(--concurrency) over one connection; a blob shared by several tags is
fetched once. It prints one line a tag and a total; the first failure
stops the rest and names its tag.

With --key (repeatable) or --trusted-root with --certificate-identity[-regexp]
and --certificate-oidc-issuer[-regexp], as 'ocipack verify' takes them, the
signatures are pulled too (as --referrers) and the artifact must carry a
valid one before it is tagged: refused, it is named with its digest and the
reason, and left untagged ('ocipack gc' removes what it brought).
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, true)
			allTags := fs.Bool("all-tags", false, "pull every tag of the repository")
			pf := addPolicyFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				pol, err := pf.enforcement()
				if err != nil {
					return err
				}
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
					// No tag given: the entry keeps its full source name.
					if tag, err = layout.FullName(src.String()); err != nil {
						return usagef("%v", err)
					}
				}
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				opts.Policy = pol
				l, err := layout.OpenOrCreate(ctx, dst.Path)
				if err != nil {
					return err
				}
				defer l.Close()
				onEvent, finish := e.transferReporter("pulled")
				opts.OnEvent = onEvent
				if *allTags {
					var total transfer.Result
					n := 0
					// One client for every tag; several tags at once.
					err = transfer.PullTags(ctx, src, l, nil, opts, func(tag string, res *transfer.Result) {
						finish() // end the progress line before the summary
						ref := src
						ref.Reference = tag
						name, _ := layout.FullName(ref.String()) // PullTags checked it
						fmt.Fprintf(e.stdout, "%s -> %s:%s\n", summary("pulled", res), dst.Path, name)
						n++
						total.Add(res)
					})
					finish() // end the progress line before an error is printed too
					if err != nil {
						return refused(e, err, "it was not tagged; the tags pulled before it were")
					}
					fmt.Fprintf(e.stdout, "pulled %d tag(s) of %s: %s received, %d blob(s) copied, %d skipped (already there), %d manifest(s) -> %s\n",
						n, src, progress.Bytes(total.Bytes), total.Copied, total.Skipped, total.Manifests, dst.Path)
					return nil
				}
				res, err := transfer.Pull(ctx, src, l, tag, opts)
				finish()
				if err != nil {
					return refused(e, err, "nothing was tagged in "+dst.Path)
				}
				fmt.Fprintf(e.stdout, "%s -> %s:%s\n", summary("pulled", res), dst.Path, tag)
				return nil
			}
		},
	}
}
