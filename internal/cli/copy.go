package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/transfer"
)

func copyCommand() command {
	return command{
		name:    "copy",
		args:    "REGISTRY/REPO[:TAG|@DIGEST] REGISTRY/REPO[:TAG] [flags]\n  ocipack copy --all-tags REGISTRY/REPO REGISTRY/REPO [flags]",
		nargs:   exactly(2, "need a source REGISTRY/REPO[:TAG|@DIGEST] and a destination REGISTRY/REPO[:TAG]"),
		summary: "Copy an artifact (or every tag) from a registry to a registry",
		examples: `  ocipack copy registry.example/apps/bundle:v1 registry.internal:5000/apps/bundle
  ocipack copy registry.example/apps/bundle@sha256:0123…cdef registry.internal:5000/apps/bundle:v1
  ocipack copy registry.example/apps/bundle:v1 registry.internal:5000/apps/bundle --referrers
  ocipack copy --all-tags registry.example/apps/bundle registry.internal:5000/apps/bundle

Blobs stream from one registry to the other without touching disk, and
digests stay as they are. The destination tag defaults to the source tag; a
source named by digest is copied by digest alone unless the destination
names a tag. Blobs the destination has are skipped; between two repositories
of one registry they are mounted, not sent. --all-tags copies every tag the
registry lists, under the same names, several at once (--concurrency); a
blob shared by several tags moves once. The registry flags (credentials,
TLS) apply to both registries.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, true)
			allTags := fs.Bool("all-tags", false, "copy every tag of the repository")
			return func(ctx context.Context, e *env, args []string) error {
				src, err := transfer.ParseReference(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				dst, err := transfer.ParseReference(args[1])
				if err != nil {
					return usagef("%v", err)
				}
				switch {
				case *allTags:
					if src.Reference != "" || dst.Reference != "" {
						return usagef("--all-tags takes two REGISTRY/REPO without tags")
					}
				case src.Reference == "":
					return usagef("%s names no tag or digest: write REGISTRY/REPO:TAG or @sha256:…, or pass --all-tags", args[0])
				default:
					if _, err := dst.Digest(); err == nil {
						return usagef("the destination %s names a digest: give a tag or none", args[1])
					}
				}
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				onEvent, finish := e.transferReporter("copied")
				opts.OnEvent = onEvent
				dstRepo := dst.Registry + "/" + dst.Repository
				if *allTags {
					var total transfer.Result
					n := 0
					err = transfer.CopyRegistryTags(ctx, src, dst, nil, opts, func(tag string, res *transfer.Result) {
						finish() // end the progress line before the summary
						fmt.Fprintf(e.stdout, "%s -> %s:%s\n", copySummary(res), dstRepo, tag)
						n++
						total.Add(res)
					})
					finish() // end the progress line before an error is printed too
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "copied %d tag(s) of %s: %s sent, %d blob(s) copied%s, %d skipped (already there), %d manifest(s) -> %s\n",
						n, src, progress.Bytes(total.Bytes), total.Copied, mountedNote(&total), total.Skipped, total.Manifests, dstRepo)
					return nil
				}
				res, err := transfer.CopyRegistry(ctx, src, dst, opts)
				finish()
				if err != nil {
					return err
				}
				target := dstRepo
				switch {
				case dst.Reference != "":
					target += ":" + dst.Reference
				case res.Manifest.Digest.String() != src.Reference:
					target += ":" + src.Reference
				default:
					target += "@" + res.Manifest.Digest.String()
				}
				fmt.Fprintf(e.stdout, "%s -> %s\n", copySummary(res), target)
				return nil
			}
		},
	}
}

// copySummary is the line that tells what a copy moved: summary's, with
// the blobs mounted when there are any.
func copySummary(res *transfer.Result) string {
	return fmt.Sprintf("copied %s: %s sent, %d blob(s) copied%s, %d skipped (already there), %d manifest(s)",
		res.Manifest.Digest, progress.Bytes(res.Bytes), res.Copied, mountedNote(res), res.Skipped, res.Manifests)
}

// mountedNote says how many of the blobs copied were mounted, if any.
func mountedNote(res *transfer.Result) string {
	if res.Mounted == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d mounted, not sent)", res.Mounted)
}
